//go:build race

package strictjson

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are not exact under -race.
const raceEnabled = true
