package experiment

// Assignment is deterministic: a unit's bucket is a hash of the experiment's name and
// the unit's id, mapped to [0, 1) and walked along the variants' cumulative weights. The
// same visitor gets the same variant on every request and every server, with no state
// kept; it changes only if the weights (or the variants) change. The name in the hash
// makes buckets of different experiments independent.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Bucket is the unit's position in [0, 1) for the experiment: FNV-1a 64 of
// name + "\x00" + unit, then the splitmix64 finaliser for an even spread of the top bits.
func Bucket(name, unit string) float64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= fnvPrime
	}
	h *= fnvPrime // the "\x00" separator: h ^= 0 is a no-op
	for i := 0; i < len(unit); i++ {
		h ^= uint64(unit[i])
		h *= fnvPrime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11) / (1 << 53)
}

// Assign returns the index of the unit's variant.
func (e Experiment) Assign(unit string) int {
	var total float64
	for _, v := range e.Variants {
		total += v.Weight
	}
	b := Bucket(e.Name, unit) * total
	var cum float64
	for i, v := range e.Variants {
		cum += v.Weight
		if b < cum {
			return i
		}
	}
	return len(e.Variants) - 1
}
