package table

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// LogDir is the folder of the transaction log, relative to the table root.
const LogDir = "_delta_log/"

// CommitKey is the key of the JSON commit for a version: _delta_log/00000000000000000042.json.
func CommitKey(version int64) string { return fmt.Sprintf("%s%020d.json", LogDir, version) }

// logFileKind classifies a file of the log by name.
type logFileKind int

const (
	logOther logFileKind = iota
	logCommit
	logCheckpoint    // classic single-part: N.checkpoint.parquet
	logCheckpointMP  // multi-part: N.checkpoint.PART.PARTS.parquet
	logCheckpointV2  // N.checkpoint.UUID.json|parquet (v2, needs the feature)
	logCompaction    // N.M.compacted.json
	logCRC           // N.crc
	logLastCheckpint // _last_checkpoint
)

type logFile struct {
	key     string
	kind    logFileKind
	version int64
	part    int // 1-based, multi-part only
	parts   int // multi-part only
	size    int64
	modTime time.Time
}

// parseLogFile classifies one key under _delta_log/.
func parseLogFile(o storage.ObjectInfo) logFile {
	f := logFile{key: o.Key, size: o.Size, modTime: o.ModTime, version: -1}
	name := strings.TrimPrefix(o.Key, LogDir)
	if strings.Contains(name, "/") {
		return f // a file in a subfolder (_commits/, sidecars): not a log entry
	}
	if name == "_last_checkpoint" {
		f.kind = logLastCheckpint
		return f
	}
	if len(name) < 21 || name[20] != '.' {
		return f
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil {
		return f
	}
	f.version = v
	rest := name[21:]
	switch {
	case rest == "json":
		f.kind = logCommit
	case rest == "crc":
		f.kind = logCRC
	case rest == "checkpoint.parquet":
		f.kind = logCheckpoint
	case strings.HasPrefix(rest, "checkpoint."):
		mid, ext, _ := cutLast(strings.TrimPrefix(rest, "checkpoint."), ".")
		if p, ps, ok := strings.Cut(mid, "."); ok && ext == "parquet" && len(p) == 10 && len(ps) == 10 {
			part, e1 := strconv.Atoi(p)
			parts, e2 := strconv.Atoi(ps)
			if e1 == nil && e2 == nil && part >= 1 && part <= parts {
				f.kind, f.part, f.parts = logCheckpointMP, part, parts
			}
		} else if mid != "" && !strings.Contains(mid, ".") && (ext == "json" || ext == "parquet") {
			f.kind = logCheckpointV2 // mid is the UUID
		}
	case strings.HasSuffix(rest, ".compacted.json"):
		f.kind = logCompaction
	}
	return f
}

// cutLast slices s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// listLog lists the log files after startAfter (a key), in version order.
func listLog(ctx context.Context, store storage.Storage, startAfter string) ([]logFile, error) {
	var out []logFile
	for o, err := range store.List(ctx, LogDir, startAfter) {
		if err != nil {
			return nil, err
		}
		if f := parseLogFile(o); f.kind != logOther {
			out = append(out, f)
		}
	}
	return out, nil
}
