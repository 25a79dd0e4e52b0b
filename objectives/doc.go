// Package objectives implements the DPO-family preference objectives of
// SCIENCE.md §2 as pure functions of per-sequence log-prob nodes.
package objectives
