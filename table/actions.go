package table

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Action is one line of a Delta commit file. Exactly one field is set. Field names and
// JSON keys are the protocol's own.
type Action struct {
	CommitInfo *CommitInfo `json:"commitInfo,omitempty"`
	Protocol   *Protocol   `json:"protocol,omitempty"`
	MetaData   *Metadata   `json:"metaData,omitempty"`
	Txn        *Txn        `json:"txn,omitempty"`
	Add        *Add        `json:"add,omitempty"`
	Remove     *Remove     `json:"remove,omitempty"`

	// Actions a reader must know about but this writer never produces.
	Cdc                *json.RawMessage `json:"cdc,omitempty"`
	DomainMetadata     *DomainMetadata  `json:"domainMetadata,omitempty"`
	CheckpointMetadata *json.RawMessage `json:"checkpointMetadata,omitempty"`
	Sidecar            *json.RawMessage `json:"sidecar,omitempty"`
}

// Protocol is the protocol action: the reader and writer versions (and, from reader 3 /
// writer 7, the named features) a client needs to read or write the table.
type Protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// Format names the data file format; Delta tables always use parquet.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// Metadata is the metaData action: table identity, schema, partitioning and properties.
type Metadata struct {
	ID               string            `json:"id"`
	Name             *string           `json:"name,omitempty"`
	Description      *string           `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

// Schema parses SchemaString.
func (m *Metadata) Schema() (*StructType, error) { return ParseSchema(m.SchemaString) }

// Add is the add action: a data file that is part of the table from this version on.
// Path is a relative or absolute URI, percent-encoded as the protocol requires.
type Add struct {
	Path             string             `json:"path"`
	PartitionValues  map[string]*string `json:"partitionValues"`
	Size             int64              `json:"size"`
	ModificationTime int64              `json:"modificationTime"`
	DataChange       bool               `json:"dataChange"`
	Stats            string             `json:"stats,omitempty"`
	Tags             map[string]string  `json:"tags,omitempty"`
	DeletionVector   *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID        *int64             `json:"baseRowId,omitempty"`
	DefaultRowCommit *int64             `json:"defaultRowCommitVersion,omitempty"`
	ClusteringProv   *string            `json:"clusteringProvider,omitempty"`
}

// Remove is the remove action: a data file that stops being part of the table.
type Remove struct {
	Path                 string             `json:"path"`
	DeletionTimestamp    *int64             `json:"deletionTimestamp,omitempty"`
	DataChange           bool               `json:"dataChange"`
	ExtendedFileMetadata *bool              `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]*string `json:"partitionValues,omitempty"`
	Size                 *int64             `json:"size,omitempty"`
	Tags                 map[string]string  `json:"tags,omitempty"`
	DeletionVector       *DeletionVector    `json:"deletionVector,omitempty"`
	BaseRowID            *int64             `json:"baseRowId,omitempty"`
	DefaultRowCommit     *int64             `json:"defaultRowCommitVersion,omitempty"`
}

// DeletionVector describes rows of a data file that are deleted.
type DeletionVector struct {
	StorageType    string `json:"storageType"`
	PathOrInlineDv string `json:"pathOrInlineDv"`
	Offset         *int32 `json:"offset,omitempty"`
	SizeInBytes    int32  `json:"sizeInBytes"`
	Cardinality    int64  `json:"cardinality"`
}

// UniqueID identifies the deletion vector within its file, as log replay keys need.
func (dv *DeletionVector) UniqueID() string {
	if dv == nil {
		return ""
	}
	if dv.Offset != nil {
		return fmt.Sprintf("%s%s@%d", dv.StorageType, dv.PathOrInlineDv, *dv.Offset)
	}
	return dv.StorageType + dv.PathOrInlineDv
}

// Txn is the txn action: the last version an application committed. Sluice's appId is
// "<connector>:<topic>:<partition>" and Version is the last Kafka offset in the table.
type Txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// DomainMetadata is the domainMetadata action.
type DomainMetadata struct {
	Domain        string `json:"domain"`
	Configuration string `json:"configuration"`
	Removed       bool   `json:"removed"`
}

// CommitInfo is provenance information; readers ignore it. Fields other writers add are
// kept in Extra on read and dropped on write.
type CommitInfo struct {
	Timestamp           int64             `json:"timestamp"`
	Operation           string            `json:"operation,omitempty"`
	OperationParameters map[string]string `json:"operationParameters,omitempty"`
	OperationMetrics    map[string]string `json:"operationMetrics,omitempty"`
	IsBlindAppend       *bool             `json:"isBlindAppend,omitempty"`
	EngineInfo          string            `json:"engineInfo,omitempty"`
	TxnID               string            `json:"txnId,omitempty"`
	ReadVersion         *int64            `json:"readVersion,omitempty"`
	// InCommitTimestamp is the commit's time on tables with in-commit timestamps:
	// monotonic across versions, unlike file modification times.
	InCommitTimestamp *int64 `json:"inCommitTimestamp,omitempty"`
}

// UnmarshalJSON accepts commitInfo objects of any writer; unknown or oddly typed fields
// (Spark writes operationParameters values as strings, others as JSON) are ignored.
func (c *CommitInfo) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	_ = json.Unmarshal(raw["timestamp"], &c.Timestamp)
	_ = json.Unmarshal(raw["operation"], &c.Operation)
	_ = json.Unmarshal(raw["engineInfo"], &c.EngineInfo)
	_ = json.Unmarshal(raw["txnId"], &c.TxnID)
	c.OperationParameters = stringMap(raw["operationParameters"])
	c.OperationMetrics = stringMap(raw["operationMetrics"])
	if v, ok := raw["isBlindAppend"]; ok {
		var b bool
		if json.Unmarshal(v, &b) == nil {
			c.IsBlindAppend = &b
		}
	}
	if v, ok := raw["readVersion"]; ok {
		var n int64
		if json.Unmarshal(v, &n) == nil {
			c.ReadVersion = &n
		}
	}
	if v, ok := raw["inCommitTimestamp"]; ok {
		var ict int64
		if json.Unmarshal(v, &ict) == nil {
			c.InCommitTimestamp = &ict
		}
	}
	return nil
}

// stringMap reads a JSON object whose values Spark writes as strings and other writers
// as any JSON value: strings stay as they are, other values keep their JSON text.
func stringMap(data json.RawMessage) map[string]string {
	var raw map[string]json.RawMessage
	if len(data) == 0 || json.Unmarshal(data, &raw) != nil || len(raw) == 0 {
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// encodeActions renders actions as newline-delimited JSON, the commit file format.
func encodeActions(actions []Action) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i := range actions {
		if err := enc.Encode(&actions[i]); err != nil {
			return nil, fmt.Errorf("encode action %d: %w", i, err)
		}
	}
	return b.Bytes(), nil
}
