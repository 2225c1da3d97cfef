"""A reader for CTranslate2's ``model.bin`` (binary format version 6), written from the format:

    u32 version | str spec name | u32 spec revision | u32 count
    count x (str name | u8 rank | rank x u32 dim | u8 dtype | u32 nbytes | nbytes raw little-endian)
    u32 alias count | alias count x (str alias | str target)        (optional trailer)

where ``str`` is a u16 byte length (the terminating NUL included) and the bytes. Only the plain
dtypes are read; a quantised model (int8 weights with ``weight_scale``) is refused by the caller.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUPPORTED_VERSION = 6
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}


@dataclass
class CT2Model:
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]


class _Cursor:
    def __init__(self, data: bytes, path: Path):
        self.data, self.offset, self.path = data, 0, path

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise ValueError(f"{self.path}: truncated CTranslate2 file (ends inside a header at byte {self.offset})")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def string(self) -> str:
        length = self.take("<H")
        raw = self.raw(length)
        return raw[:-1].decode("utf-8")  # the length counts the trailing NUL

    def raw(self, length: int) -> bytes:
        if self.offset + length > len(self.data):
            raise ValueError(f"{self.path}: truncated CTranslate2 file (needs {length} bytes at byte {self.offset})")
        chunk = self.data[self.offset : self.offset + length]
        self.offset += length
        return chunk


def _array(raw: bytes, dtype_code: int, dims: list[int], name: str, path: Path) -> np.ndarray:
    if dtype_code not in DTYPES:
        raise ValueError(f"{path}: variable {name!r} has unknown dtype code {dtype_code}")
    dtype = DTYPES[dtype_code]
    if dtype == "bfloat16":  # no numpy bfloat16: widen the 16 high bits of float32
        array = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
    else:
        array = np.frombuffer(raw, dtype)
    if array.size != int(np.prod(dims, dtype=np.int64)):
        raise ValueError(f"{path}: variable {name!r} holds {array.size} values for shape {dims}")
    return array.reshape(dims)


def read_ct2(path: str | Path) -> CT2Model:
    """Every variable of a CTranslate2 ``model.bin`` as a numpy array (read-only views)."""
    path = Path(path)
    cursor = _Cursor(path.read_bytes(), path)
    version = cursor.take("<I")
    if version != SUPPORTED_VERSION:
        raise ValueError(f"{path}: CTranslate2 binary version {version}; this reader reads {SUPPORTED_VERSION}")
    spec, revision, count = cursor.string(), cursor.take("<I"), cursor.take("<I")
    variables = {}
    for _ in range(count):
        name = cursor.string()
        dims = [cursor.take("<I") for _ in range(cursor.take("<B"))]
        dtype_code, nbytes = cursor.take("<B"), cursor.take("<I")
        variables[name] = _array(cursor.raw(nbytes), dtype_code, dims, name, path)
    aliases = {}
    if cursor.offset < len(cursor.data):
        for _ in range(cursor.take("<I")):
            alias = cursor.string()
            aliases[alias] = cursor.string()
    return CT2Model(spec, revision, variables, aliases)
