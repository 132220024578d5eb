package training

import "github.com/modelstream/modelstream/internal/atomicfile"

// ckptFS is the filesystem seam of checkpoint writes and reads: the
// operating system's, or a test's that injects a crash at any step and
// models what survives it.
type ckptFS = atomicfile.FS

// ckptFile is the part of *os.File that a checkpoint write uses.
type ckptFile = atomicfile.File

// checkpointFS is the filesystem checkpoints use; tests replace it.
var checkpointFS ckptFS = atomicfile.OS
