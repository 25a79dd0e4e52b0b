package graph

import "fmt"

// RecoverPanic turns a panic into *err = "what: panic value". Gorgonia
// reports some shape and type errors by panicking while a graph is built
// or run; defer RecoverPanic(what, &err) in a function with a named error
// result returns them as errors instead.
func RecoverPanic(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %v", what, r)
	}
}
