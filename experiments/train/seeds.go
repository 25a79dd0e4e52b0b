package train

// Stream names one random stream derived from a cell's seed (grid.seed).
// Each consumer of randomness in a cell draws from its own stream, so
// adding a draw to one never shifts another. A stream's seed is the cell
// seed XOR the stream's value; the values are part of the record format:
// changing one changes every recorded run that uses it (its cell id does
// not change, so an existing sweep would silently mix the two).
type Stream uint64

const (
	// ModelInit seeds the random initial weights of a preset model
	// (models.NewTransformer, models.NewMLP): the cell seed itself.
	ModelInit Stream = 0
	// SFTOrder seeds the batch order of the SFT stage (stage 1).
	SFTOrder Stream = 0x5f7
	// PrefOrder seeds the batch order of the preference stage (stage 2).
	PrefOrder Stream = 0x9e3
)

// Seed returns the seed of stream s for the cell seed cellSeed.
func (s Stream) Seed(cellSeed int) uint64 { return uint64(cellSeed) ^ uint64(s) }
