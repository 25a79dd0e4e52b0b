package tomlval

import (
	"errors"
	"math"
	"testing"
)

// TestCoercers pins every message of the coercers: the grid, objective and
// gate tables report bad values through them.
func TestCoercers(t *testing.T) {
	check := func(err error, want string) {
		t.Helper()
		var ke *KeyError
		if !errors.As(err, &ke) || err.Error() != want {
			t.Errorf("got %v, want KeyError %q", err, want)
		}
	}
	_, err := String("k", int64(3))
	check(err, "k: expected a string, got 3")
	_, err = String("k", "c", "a", "b")
	check(err, `k: expected one of a, b, got "c"`)
	if s, err := String("k", "b", "a", "b"); s != "b" || err != nil {
		t.Errorf("String: %q %v", s, err)
	}
	_, err = Bool("k", "yes")
	check(err, `k: expected true or false, got "yes"`)
	_, err = Int("k", 1.5, 1, 10)
	check(err, "k: expected an integer >= 1, got 1.5")
	_, err = Int("k", int64(0), 1, 10)
	check(err, "k: expected an integer >= 1, got 0")
	_, err = Int("k", int64(11), 1, 10)
	check(err, "k: expected ≤ 10, got 11")
	_, err = Number("k", []any{}, Any)
	check(err, "k: expected a number, got a list")
	_, err = Number("k", map[string]any{}, Positive)
	check(err, "k: expected a finite number > 0, got a table")
	_, err = Number("k", 0.0, Positive)
	check(err, "k: expected a finite number > 0, got 0")
	_, err = Number("k", math.Inf(1), NonNegative)
	check(err, "k: expected a finite number >= 0, got +Inf")
	if x, err := Number("k", int64(2), NonNegative); x != 2 || err != nil {
		t.Errorf("Number int: %v %v", x, err)
	}
	if x, err := Number("k", math.NaN(), Any); !math.IsNaN(x) || err != nil {
		t.Errorf("Number Any must leave the range to the caller: %v %v", x, err)
	}
	check(Errorf("", "whole table"), "whole table")
}
