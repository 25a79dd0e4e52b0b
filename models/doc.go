// Package models holds the models of gatedpo as Gorgonia graphs: the GPT
// transformer pinned by shared/spec/transformer.md, a fixed-window MLP
// language model, and the toy softmax model of SCIENCE.md §4.
package models
