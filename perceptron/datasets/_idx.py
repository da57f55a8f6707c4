"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension,
then the array's values in C order, big-endian. The magic number is two zero
bytes, a type code and the number of dimensions. Files are often gzipped.
"""

import gzip
import math
import os
import tempfile
import zlib

import numpy as np

# IDX type code -> big-endian numpy dtype.
_CODE_TO_DTYPE = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_TO_CODE = {dtype.newbyteorder("="): code for code, dtype in _CODE_TO_DTYPE.items()}
_GZIP_MAGIC = b"\x1f\x8b"
# more dimensions than any NumPy array can have (32 before NumPy 2, 64 since)
_MAX_NDIM = 32


def read_idx(path_or_fileobj):
    """Read an IDX file (gzipped or not) into a numpy array.

    Gzip compression is detected from the content (bytes ``1f 8b``), not from
    the file name. The header is checked before any data is used, so a file
    that is truncated, has trailing bytes, a bad magic number or an unknown
    type code raises an error instead of returning a wrong array.

    Parameters
    ----------
    path_or_fileobj : str, path-like or binary file object
        The file to read. A file object is read from its current position to
        its end.

    Returns
    -------
    array : ndarray
        The values, in native byte order, with the shape stored in the file.
        The dtype is ``uint8``, ``int8``, ``int16``, ``int32``, ``float32``
        or ``float64`` according to the file's type code.

    Raises
    ------
    ValueError
        If the file is not a valid IDX file; the message names the file and
        says what is wrong.

    See Also
    --------
    write_idx : Write an array as an IDX file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from perceptron.datasets import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte.gz")
    >>> write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    >>> read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    raw, name = _read_bytes(path_or_fileobj)
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, name)
    return _parse(raw, name)


def write_idx(path, array):
    """Write an array as an IDX file, gzipped if ``path`` ends in ``.gz``.

    The file is written to a temporary file in the same folder and moved into
    place only once complete, so readers never see a partial file.

    Parameters
    ----------
    path : str or path-like
        Destination. A name ending in ``.gz`` gives a gzip-compressed file.
    array : array-like
        Values to store, with at least one dimension. The dtype must be one
        that IDX supports: ``uint8``, ``int8``, ``int16``, ``int32``,
        ``float32`` or ``float64``; other dtypes are refused rather than
        silently converted.

    Raises
    ------
    ValueError
        If the dtype or number of dimensions cannot be stored as IDX.

    See Also
    --------
    read_idx : Read an IDX file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from perceptron.datasets import read_idx, write_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    >>> os.path.getsize(path)  # 4-byte magic + 4-byte length + 3 values
    11
    >>> read_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPE_TO_CODE:
        supported = ", ".join(str(d) for d in _DTYPE_TO_CODE)
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of: {supported}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"IDX dimensions must be < 2**32, got shape {array.shape}")
    header = bytes([0, 0, _DTYPE_TO_CODE[native], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    path = os.fspath(path)
    compress = path.endswith(".gz")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
                    gz.write(header)
                    gz.write(payload)
            else:
                f.write(header)
                f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read_bytes(path_or_fileobj):
    if hasattr(path_or_fileobj, "read"):
        name = getattr(path_or_fileobj, "name", None)
        name = os.fspath(name) if isinstance(name, (str, os.PathLike)) else "<file object>"
        return bytes(path_or_fileobj.read()), name
    name = os.fspath(path_or_fileobj)
    with open(name, "rb") as f:
        return f.read(), name


def _gunzip(raw, name):
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{name}: corrupted gzip data ({exc}); "
                         "the file is damaged or incomplete, delete it and get it again") from exc


def _parse(raw, name):
    if len(raw) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(raw)} bytes, "
                         "shorter than the 4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an IDX file: magic number starts with bytes "
                         f"{raw[0]:02x} {raw[1]:02x}, expected 00 00")
    code, ndim = raw[2], raw[3]
    if code not in _CODE_TO_DTYPE:
        valid = ", ".join(f"0x{c:02X}" for c in _CODE_TO_DTYPE)
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X} (valid codes: {valid})")
    if ndim < 1:
        raise ValueError(f"{name}: IDX header declares 0 dimensions, at least 1 is needed")
    if ndim > _MAX_NDIM:
        raise ValueError(f"{name}: IDX header declares {ndim} dimensions; an array has "
                         f"at most {_MAX_NDIM} (is this an IDX file?)")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need "
                         f"{header_size} header bytes, the file has {len(raw)}")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize
    actual = len(raw) - header_size
    what = f"shape {shape} of {dtype.newbyteorder('=')} needs {expected} data bytes"
    if actual < expected:
        raise ValueError(f"{name}: truncated IDX file: {what}, only {actual} follow the header")
    if actual > expected:
        raise ValueError(f"{name}: {actual - expected} unexpected trailing bytes "
                         f"after the IDX data ({what}, {actual} follow the header)")
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
