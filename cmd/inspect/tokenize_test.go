package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRunTokenize checks the wiring of `inspect tokenize`; hftok.Inspect's
// own tests cover the flags and the output.
func TestRunTokenize(t *testing.T) {
	stdin, stdout := os.Stdin, os.Stdout
	defer func() { os.Stdin, os.Stdout = stdin, stdout }()
	in := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(in, []byte("{\"text\": \"Hello World\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stdin, os.Stdout = f, devnull
	tok := filepath.Join("..", "..", "experiments", "data", "hftok", "testdata", "tiny_gpt2.json")
	if code := runTokenize([]string{"-tokenizer", tok}); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	if code := runTokenize([]string{"-tokenizer", filepath.Join(t.TempDir(), "missing.json")}); code != 2 {
		t.Errorf("missing tokenizer: exit %d, want 2", code)
	}
}
