#!/usr/bin/env python3
"""Independent reader of TensorBoard event files for gatedpo's tests.

Reads TFRecord framing, checks both masked CRC-32C values of every record,
decodes the Event protocol buffer fields TensorBoard uses for scalars, and
prints one JSON object per event. Written from the format descriptions
(TFRecord: length, masked CRC of length, data, masked CRC of data; Event
proto: wall_time=1 double, step=2 int64, file_version=3 string, summary=5,
session_log=6; Summary.value=1; Value.tag=1, Value.simple_value=2 float),
with no code shared with the Go writer. Exit status 1 on any corrupt record.
"""
import json
import struct
import sys


def _crc32c_table():
    poly = 0x82F63B78  # reversed Castagnoli polynomial
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for byte in data:
        c = TABLE[(c ^ byte) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yield (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = varint(buf, i)
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield num, wire, val


def decode_event(data):
    ev = {"scalars": {}}
    for num, wire, val in fields(data):
        if num == 1 and wire == 1:
            ev["wall_time"] = struct.unpack("<d", val)[0]
        elif num == 2 and wire == 0:
            ev["step"] = val - (1 << 64) if val >= 1 << 63 else val
        elif num == 3 and wire == 2:
            ev["file_version"] = val.decode("utf-8")
        elif num == 5 and wire == 2:
            for vnum, _, v in fields(val):
                if vnum != 1:
                    continue
                tag, x = None, None
                for fnum, fwire, f in fields(v):
                    if fnum == 1:
                        tag = f.decode("utf-8")
                    elif fnum == 2 and fwire == 5:
                        x = struct.unpack("<f", f)[0]
                ev["scalars"][tag] = x if x == x else "NaN"
        elif num == 6 and wire == 2:
            for snum, _, s in fields(val):
                if snum == 1:
                    ev["session_log_status"] = s
    return ev


def read(path):
    with open(path, "rb") as f:
        buf = f.read()
    i = 0
    while i < len(buf):
        if len(buf) - i < 12:
            raise ValueError("%s: truncated record header at byte %d" % (path, i))
        header = buf[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", buf[i + 8:i + 12])
        if hcrc != masked(header):
            raise ValueError("%s: bad length CRC at byte %d" % (path, i))
        data = buf[i + 12:i + 12 + length]
        if len(data) != length or len(buf) < i + 16 + length:
            raise ValueError("%s: truncated record at byte %d" % (path, i))
        (dcrc,) = struct.unpack("<I", buf[i + 12 + length:i + 16 + length])
        if dcrc != masked(data):
            raise ValueError("%s: bad data CRC at byte %d" % (path, i))
        yield decode_event(data)
        i += 16 + length


def main():
    try:
        for path in sys.argv[1:]:
            for ev in read(path):
                print(json.dumps(ev, sort_keys=True))
    except ValueError as e:
        print(e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
