// Package tfpb holds the Go code generated from graph.proto and
// savedmodel.proto, the subsets of TensorFlow's GraphDef and SavedModel
// schemas that package tensorflow decodes.
package tfpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative graph.proto savedmodel.proto
