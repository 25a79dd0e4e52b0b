package main

import (
	"fmt"
	"math/rand/v2"

	"gatedpo/experiments/data"
	"gatedpo/experiments/loss"
	"gatedpo/experiments/train"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/objectives"
)

// makeBatch draws the peer's synthetic preference batch: B pairs of
// exactly T tokens each, ids uniform in [1, V), prompt length per pair
// uniform in [T/8, T/2], chosen and rejected sharing the prompt, the
// response mask 1 from the prompt's end on (bench.py "batch").
func makeBatch(rng *rand.Rand, pairs, t, vocab int) data.Batch {
	row := func() []int {
		r := make([]int, t)
		for j := range r {
			r[j] = 1 + rng.IntN(vocab-1)
		}
		return r
	}
	b := data.Batch{T: t}
	for i := 0; i < pairs; i++ {
		b.ChosenIDs = append(b.ChosenIDs, row())
	}
	for i := 0; i < pairs; i++ {
		b.RejectedIDs = append(b.RejectedIDs, row())
	}
	for i := 0; i < pairs; i++ {
		plen := t/8 + rng.IntN(t/2-t/8+1)
		copy(b.RejectedIDs[i][:plen], b.ChosenIDs[i][:plen])
		cm, rm := make([]int, t), make([]int, t)
		for j := plen; j < t; j++ {
			cm[j], rm[j] = 1, 1
		}
		b.ChosenMask = append(b.ChosenMask, cm)
		b.RejectedMask = append(b.RejectedMask, rm)
		b.PromptLens = append(b.PromptLens, plen)
		b.ChosenLens = append(b.ChosenLens, t-plen)
		b.RejectedLens = append(b.RejectedLens, t-plen)
	}
	return b
}

// makeHFBatch draws the synthetic batch of the Hugging Face peer
// (shared/hf/peer/bench_hf.py): B pairs of exactly T tokens, ids uniform in
// [0, V), the first ⌊T/4⌋ tokens a prompt shared by chosen and rejected,
// the response mask 1 from there on.
func makeHFBatch(rng *rand.Rand, pairs, t, vocab int) data.Batch {
	plen := t / 4
	b := data.Batch{T: t}
	row := func(prompt []int) []int {
		r := make([]int, t)
		copy(r, prompt)
		for j := plen; j < t; j++ {
			r[j] = rng.IntN(vocab)
		}
		return r
	}
	for i := 0; i < pairs; i++ {
		prompt := make([]int, plen)
		for j := range prompt {
			prompt[j] = rng.IntN(vocab)
		}
		b.ChosenIDs = append(b.ChosenIDs, row(prompt))
		b.RejectedIDs = append(b.RejectedIDs, row(prompt))
		m := make([]int, t)
		for j := plen; j < t; j++ {
			m[j] = 1
		}
		b.ChosenMask = append(b.ChosenMask, m)
		b.RejectedMask = append(b.RejectedMask, append([]int(nil), m...))
		b.PromptLens = append(b.PromptLens, plen)
		b.ChosenLens = append(b.ChosenLens, t-plen)
		b.RejectedLens = append(b.RejectedLens, t-plen)
	}
	return b
}

// stepper runs the training step of the sweep (train.PrefStep on a
// loss.PrefGraph, the step the sweep trains with), which is the peer's
// step: reference forward (no gradient) on [chosen; rejected], policy
// forward + backward, objective (+ gate), one optimizer step.
type stepper struct {
	batch data.Batch
	pref  *train.PrefStep
	ref   *loss.SeqGraph

	// packed pairs (-pack): the policy graph and the reference run each
	// pair as one packed row of packT tokens; packRef holds refPairs
	// pairs (ref is nil).
	pack     bool
	packT    int
	packRef  *loss.PackedReference
	refPairs int
	rc, rr   []float64 // reference log-probs (precomputed or of the last step)
}

// newStepper builds the step's graphs. refRows (0 = all 2·pairs rows at
// once) runs the reference forward over that many rows at a time, looping
// over the batch: the log-probs are the same (rows are independent), the
// reference graph's buffers shrink in proportion.
//
// microPairs (0 = all pairs at once) builds the policy graph for that many
// pairs and runs the batch through it in micro-batches (train.PrefStep,
// as the sweep's train.micro_pairs): the same step up to rounding, with
// the policy graph's buffers shrunk in proportion, at the cost of one
// gradient-sized buffer.
//
// pack runs every pair as one packed row (loss.PrefOptions.Pack,
// loss.PackedReference): the prompt once, then the chosen and the
// rejected response; refRows then counts unpacked rows, so the reference
// runs max(1, refRows/2) pairs at a time.
func newStepper(policy, reference models.LM, b data.Batch, obj objectives.Spec, gate gating.Spec, opt *graph.Optimizer, refRows, microPairs int, pack bool) (*stepper, error) {
	pairs := len(b.ChosenIDs)
	if microPairs <= 0 || microPairs > pairs {
		microPairs = pairs
	}
	if pairs%microPairs != 0 {
		return nil, usageError{fmt.Errorf("-micro-pairs %d does not divide -pairs %d", microPairs, pairs)}
	}
	if microPairs < pairs && obj.Reduction() == objectives.Mixed {
		return nil, usageError{fmt.Errorf("-micro-pairs %d: objective %s mixes a mean over pairs with a batch token mean, which micro-batches cannot reproduce; use -micro-pairs 0", microPairs, obj)}
	}
	t := b.T
	if pack {
		t = 2
		for i := range b.ChosenIDs {
			t = max(t, loss.PackedPairLen(b.PromptLens[i], b.ChosenLens[i], b.RejectedLens[i]))
		}
	}
	newStep := train.NewPrefStep
	if pack {
		newStep = train.NewPackedPrefStep
	}
	pref, err := newStep(policy, opt, obj, gate, pairs, microPairs, t)
	if err != nil {
		return nil, err
	}
	s := &stepper{batch: b, pref: pref, pack: pack, packT: t}
	if refRows <= 0 || refRows > 2*pairs {
		refRows = 2 * pairs
	}
	if pack {
		s.refPairs = max(1, refRows/2)
		if s.packRef, err = loss.NewPackedReference(reference, s.refPairs, t); err != nil {
			return nil, err
		}
		return s, nil
	}
	if s.ref, err = loss.NewSeqGraph(reference, refRows, b.T, false); err != nil {
		return nil, err
	}
	return s, nil
}

// runReference computes the reference log-probs of the batch, ref.Rows
// rows at a time (the last chunk padded with copies of its first row).
func (s *stepper) runReference() error {
	b := s.batch
	pairs := len(b.ChosenIDs)
	if s.pack {
		// refPairs pairs at a time, the last chunk padded with copies of its first pair
		s.rc, s.rr = make([]float64, 0, pairs), make([]float64, 0, pairs)
		for lo := 0; lo < pairs; lo += s.refPairs {
			hi := min(lo+s.refPairs, pairs)
			chunk := b.Pairs(lo, hi)
			for n := hi - lo; n < s.refPairs; n++ {
				chunk = appendPair(chunk, b, lo)
			}
			c, r, err := s.packRef.Logps(chunk)
			if err != nil {
				return fmt.Errorf("reference forward: %w", err)
			}
			s.rc, s.rr = append(s.rc, c[:hi-lo]...), append(s.rr, r[:hi-lo]...)
		}
		return nil
	}
	if s.ref.Rows == 2*pairs {
		var err error
		s.rc, s.rr, err = loss.ReferenceLogps(s.ref, b)
		s.ref.Release() // as the sweep: no graph keeps activations between runs
		if err != nil {
			return fmt.Errorf("reference forward: %w", err)
		}
		return nil
	}
	ids := append(append([][]int{}, b.ChosenIDs...), b.RejectedIDs...)
	mask := append(append([][]int{}, b.ChosenMask...), b.RejectedMask...)
	lp := make([]float64, 0, 2*pairs)
	for lo := 0; lo < len(ids); lo += s.ref.Rows {
		hi := min(lo+s.ref.Rows, len(ids))
		ci, cm := ids[lo:hi:hi], mask[lo:hi:hi]
		for len(ci) < s.ref.Rows {
			ci, cm = append(ci, ids[lo]), append(cm, mask[lo])
		}
		if err := s.ref.SetBatch(ci, cm); err != nil {
			return fmt.Errorf("reference forward: %w", err)
		}
		if err := s.ref.Run(); err != nil {
			return fmt.Errorf("reference forward: %w", err)
		}
		lp = append(lp, s.ref.Logps()[:hi-lo]...)
		s.ref.Release()
	}
	s.rc, s.rr = lp[:pairs:pairs], lp[pairs:]
	return nil
}

// step runs one training step and returns the loss; withRef = false
// reuses the reference log-probs computed before (precomputed once).
func (s *stepper) step(withRef bool) (float64, error) {
	if withRef {
		if err := s.runReference(); err != nil {
			return 0, err
		}
	}
	out, err := s.pref.Step(s.batch, s.rc, s.rr)
	if err != nil {
		return 0, fmt.Errorf("policy forward/backward: %w", err)
	}
	return out.Loss, nil
}

// appendPair returns b with pair i of from appended (sharing its rows).
func appendPair(b, from data.Batch, i int) data.Batch {
	b.ChosenIDs = append(b.ChosenIDs[:len(b.ChosenIDs):len(b.ChosenIDs)], from.ChosenIDs[i])
	b.RejectedIDs = append(b.RejectedIDs[:len(b.RejectedIDs):len(b.RejectedIDs)], from.RejectedIDs[i])
	b.ChosenMask = append(b.ChosenMask[:len(b.ChosenMask):len(b.ChosenMask)], from.ChosenMask[i])
	b.RejectedMask = append(b.RejectedMask[:len(b.RejectedMask):len(b.RejectedMask)], from.RejectedMask[i])
	b.PromptLens = append(b.PromptLens[:len(b.PromptLens):len(b.PromptLens)], from.PromptLens[i])
	b.ChosenLens = append(b.ChosenLens[:len(b.ChosenLens):len(b.ChosenLens)], from.ChosenLens[i])
	b.RejectedLens = append(b.RejectedLens[:len(b.RejectedLens):len(b.RejectedLens)], from.RejectedLens[i])
	return b
}
