// Package tfpb holds the Go code generated from graph.proto, the subset
// of TensorFlow's GraphDef schema that package tensorflow decodes.
package tfpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative graph.proto
