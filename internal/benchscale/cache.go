package benchscale

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// generatorVersion changes whenever the same Params would give other data
// (fleet composition, profiles' meaning, block layout): old caches are then
// ignored.
const generatorVersion = 1

// Margin is how much history before the window the data holds, for the
// detector's lookback and range-semantics probe.
const Margin = 15 * time.Minute

// Params fixes one generated data set.
type Params struct {
	Version  int       `json:"version"`
	GPUs     int       `json:"gpus"`
	Window   string    `json:"window"`
	End      time.Time `json:"end"`
	Scrape   string    `json:"scrape"`
	Metrics  []string  `json:"metrics"`
	Margin   string    `json:"margin"`
	BlockDur string    `json:"block_duration"`
}

// NewParams is the data set of gpus GPUs exporting metrics over window
// (plus Margin) ending at end.
func NewParams(gpus int, window time.Duration, end time.Time, metrics []string) Params {
	return Params{Version: generatorVersion, GPUs: gpus, Window: window.String(), End: end.UTC(),
		Scrape: scrape(nil).Interval.String(), Metrics: metrics, Margin: Margin.String(), BlockDur: BlockDuration.String()}
}

// Hash names the data set: the first 16 hex digits of the SHA-256 of its
// JSON.
func (p Params) Hash() string {
	b, _ := json.Marshal(p)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// DataSet is generated data on disk.
type DataSet struct {
	Params Params
	Dir    string // TSDB blocks (and params.json, stats.json)
	Stats  WriteStats
	// Generated is how long generation took this run; zero when cached.
	Generated time.Duration
	Fleet     Composition
}

// DefaultCacheDir is ~/.cache/miner-detector/benchscale (os.UserCacheDir).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "miner-detector", "benchscale"), nil
}

// Ensure returns the data set of p under cacheDir/<p.Hash()>, generating it
// first when it is not there (into a temporary sibling, renamed when
// complete, so an interrupted run leaves no half data set behind).
func Ensure(ctx context.Context, cacheDir string, p Params) (DataSet, error) {
	ds := DataSet{Params: p, Dir: filepath.Join(cacheDir, p.Hash())}
	window, err := time.ParseDuration(p.Window)
	if err != nil {
		return ds, err
	}
	pods, comp, err := Fleet(p.GPUs)
	if err != nil {
		return ds, err
	}
	ds.Fleet = comp
	if b, err := os.ReadFile(filepath.Join(ds.Dir, "stats.json")); err == nil {
		if err := json.Unmarshal(b, &ds.Stats); err == nil {
			return ds, nil
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return ds, err
	}
	tmp, err := os.MkdirTemp(cacheDir, p.Hash()+".tmp-")
	if err != nil {
		return ds, err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	st, err := WriteBlocks(ctx, tmp, pods, p.End.Add(-window-Margin), p.End, scrape(p.Metrics))
	if err != nil {
		return ds, err
	}
	pj, _ := json.MarshalIndent(p, "", "  ")
	sj, _ := json.MarshalIndent(st, "", "  ")
	if err := errors.Join(os.WriteFile(filepath.Join(tmp, "params.json"), pj, 0o644),
		os.WriteFile(filepath.Join(tmp, "stats.json"), sj, 0o644)); err != nil {
		return ds, err
	}
	_ = os.RemoveAll(ds.Dir) // an older, incomplete one
	if err := os.Rename(tmp, ds.Dir); err != nil {
		return ds, err
	}
	ds.Stats, ds.Generated = st, time.Since(start)
	return ds, nil
}

// LinkBlocks makes dst a TSDB directory holding ds's blocks as hard links
// (copies where links fail), so Prometheus can write its WAL and lock file
// there and never touch the cache.
func (ds DataSet) LinkBlocks(dst string) error {
	return filepath.WalkDir(ds.Dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ds.Dir, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == "params.json" || rel == "stats.json" {
			return nil
		}
		if os.Link(path, target) == nil {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
