package results

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"time"
)

// This file writes TensorBoard event files (events.out.tfevents.*): a
// TFRecord stream of Event protocol buffers, so that
// `tensorboard --logdir runs/NAME` shows a sweep's curves live and
// Weights & Biases can sync them. Only what scalars need is encoded:
//
//	TFRecord:  uint64 length | uint32 masked CRC32C(length) | data | uint32 masked CRC32C(data)
//	Event:     1 wall_time (double), 2 step (int64), 3 file_version (string),
//	           5 summary (Summary), 6 session_log (SessionLog)
//	Summary:   1 value (repeated Value)
//	Value:     1 tag (string), 2 simple_value (float)
//	SessionLog: 1 status (enum; 1 = START)
//
// A masked CRC is ((c >> 15) | (c << 17)) + 0xa282ead8, with c the
// CRC-32C (Castagnoli) of the bytes.

// EventFilePrefix starts the name of every TensorBoard event file.
const EventFilePrefix = "events.out.tfevents."

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's masked CRC-32C of b.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// EventWriter appends scalar events to one TensorBoard event file.
type EventWriter struct {
	f    *os.File
	w    *bufio.Writer
	Path string
	now  func() time.Time
}

// NewEventWriter creates a new event file in dir, named as TensorBoard's
// own writers name theirs (events.out.tfevents.<unix seconds>.<host>.<pid>.<n>),
// and writes its file_version record. When resumeStep > 0 it also writes
// a SessionLog START at that step: TensorBoard then drops the events of
// earlier files at steps ≥ resumeStep, which a resumed run writes again.
func NewEventWriter(dir string, resumeStep int) (*EventWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	now := time.Now()
	var f *os.File
	var err error
	for n := 0; ; n++ {
		name := fmt.Sprintf("%s%d.%s.%d.%d", EventFilePrefix, now.Unix(), host, os.Getpid(), n)
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil || !os.IsExist(err) || n > 1000 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ew := &EventWriter{f: f, w: bufio.NewWriter(f), Path: f.Name(), now: time.Now}
	ev := pbDouble(nil, 1, wallTime(now))
	ev = pbBytes(ev, 3, []byte("brain.Event:2"))
	if err := ew.record(ev); err != nil {
		f.Close()
		return nil, err
	}
	if resumeStep > 0 {
		ev := pbDouble(nil, 1, wallTime(now))
		ev = pbVarint(ev, 2, uint64(resumeStep))
		ev = pbBytes(ev, 6, pbVarint(nil, 1, 1)) // SessionLog{status: START}
		if err := ew.record(ev); err != nil {
			f.Close()
			return nil, err
		}
	}
	return ew, ew.Flush()
}

// Scalars writes one event at step holding every tag → value of scalars,
// in the order of tags (values that are NaN are written as NaN; TensorBoard
// shows them as gaps).
func (ew *EventWriter) Scalars(step int, tags []string, values []float64) error {
	var sum []byte
	for i, tag := range tags {
		var v []byte
		v = pbBytes(v, 1, []byte(tag))
		v = pbFloat(v, 2, float32(values[i]))
		sum = pbBytes(sum, 1, v)
	}
	ev := pbDouble(nil, 1, wallTime(ew.now()))
	ev = pbVarint(ev, 2, uint64(int64(step)))
	ev = pbBytes(ev, 5, sum)
	return ew.record(ev)
}

// Flush writes buffered events to the file.
func (ew *EventWriter) Flush() error { return ew.w.Flush() }

// Close flushes and closes the file.
func (ew *EventWriter) Close() error {
	err := ew.w.Flush()
	if cerr := ew.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// record writes one TFRecord.
func (ew *EventWriter) record(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], maskedCRC(data))
	for _, b := range [][]byte{hdr[:], data, tail[:]} {
		if _, err := ew.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func wallTime(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Protocol-buffer encoding of the few field kinds an Event needs.

func pbTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field<<3|wire))
}

func pbVarint(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(pbTag(b, field, 0), v)
}

func pbDouble(b []byte, field int, v float64) []byte {
	return binary.LittleEndian.AppendUint64(pbTag(b, field, 1), math.Float64bits(v))
}

func pbFloat(b []byte, field int, v float32) []byte {
	return binary.LittleEndian.AppendUint32(pbTag(b, field, 5), math.Float32bits(v))
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(pbTag(b, field, 2), uint64(len(v)))
	return append(b, v...)
}
