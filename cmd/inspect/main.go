// Command inspect looks inside gatedpo's inputs: `inspect lossgrad` checks
// a policy/reference pair against cases (losses, log-probs, gates, gradient
// norms) and `inspect data` summarises a preference dataset.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"gatedpo/cmd/internal/cli"
	"gatedpo/graph"
)

const usage = `usage: inspect <subcommand> [flags]

subcommands:
  lossgrad   losses, log-probs, gates and gradient norms of objective × gate cases (JSON Lines)
  data       counts, skips, truncation and token-length quantiles of a preference dataset
  tokenize   token ids of JSON-line texts with a Hugging Face tokenizer.json or model directory

Run "inspect <subcommand> -h" for its flags.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	code := 1
	defer func() {
		if r := recover(); r != nil { // an internal error, never "bad input" (the runtime's status 2)
			fmt.Fprintf(os.Stderr, "inspect: internal error: panic: %v\n%s", r, debug.Stack())
			os.Exit(1)
		}
		os.Exit(code)
	}()
	switch os.Args[1] {
	case "lossgrad":
		code = runLossgrad(os.Args[2:])
	case "data":
		code = runData(os.Args[2:])
	case "tokenize":
		code = runTokenize(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Println(usage)
		code = 0
	case "-version", "--version":
		fmt.Println(cli.VersionString("inspect", graph.BLASName()))
		code = 0
	default:
		fmt.Fprintf(os.Stderr, "inspect: unknown subcommand %q\n%s\n", os.Args[1], usage)
		code = 2
	}
}
