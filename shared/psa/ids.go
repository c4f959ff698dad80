package psa

// DistinctIDs returns ids without repeats, in first-seen order: the clients
// use it before chunking ids into "id in (…)" queries.
func DistinctIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
