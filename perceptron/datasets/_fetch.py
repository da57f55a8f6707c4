"""Download files from a list of mirrors, verified and written atomically.

Each file is tried on each mirror in turn. Transient failures (timeouts,
dropped connections, incomplete bodies, HTTP 5xx) are retried on the same
mirror with exponential backoff; anything else (HTTP 404, refused connection,
unknown host, wrong checksum) moves on to the next mirror. A file is streamed
into a temporary file in the destination folder, checked against its SHA-256
digest, fsynced and only then renamed into place: an interrupted or bad
download never leaves a file behind.

``RETRIES``, ``BACKOFF`` and ``TIMEOUT`` are read at call time and can be
changed on this module.
"""

import hashlib
import http.client
import os
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request

from tqdm import tqdm

RETRIES = 2  # extra attempts on the same mirror after a transient failure
BACKOFF = 1.0  # seconds before the first retry, doubled for each further one
TIMEOUT = 60.0  # seconds a connect or a read may block
CHUNK_SIZE = 1 << 16
USER_AGENT = "perceptron-datasets (Python urllib)"


class DownloadError(OSError):
    """Raised when a dataset file could not be downloaded from any mirror.

    The message lists every attempt that failed and tells which files to
    download by hand and the folder to put them in.

    Examples
    --------
    It is an :class:`OSError`, so ``except OSError`` catches it too:

    >>> from perceptron.datasets import DownloadError
    >>> issubclass(DownloadError, OSError)
    True
    >>> try:
    ...     raise DownloadError("MNIST: every mirror failed")
    ... except OSError as exc:
    ...     print(f"offline? {exc}")
    offline? MNIST: every mirror failed
    """

    __module__ = "perceptron.datasets"

    def __init__(self, message, *, details=None):
        super().__init__(message)
        #: what failed, for a caller that words the advice its own way
        #: (:meth:`describe`); None when raised with a bare message
        self.details = details

    def describe(self, **options):
        """The message, with the options named as ``options`` says.

        Parameters
        ----------
        **options
            ``other_folder``: the phrase telling how to point at a folder that
            holds the files (default "pass data_home= a folder"). The command
            line says "give --data-home a folder".
        """
        if self.details is None:
            return str(self)
        return _failure_message(**self.details, **options)


class _Transient(Exception):
    """A failure worth retrying on the same mirror."""


class _Permanent(Exception):
    """A failure that moves on to the next mirror at once."""


def fetch_files(filenames, folder, *, mirrors, sha256, title="the dataset",
                manual_files=None, retries=None, backoff=None, timeout=None,
                verbose=None):
    """Download ``filenames`` into ``folder`` and return their paths.

    Parameters
    ----------
    filenames : sequence of str
        Names of the files to download; each URL is ``mirror + name``.
    folder : str
        Existing destination folder.
    mirrors : sequence of str
        Base URLs, tried in order.
    sha256 : mapping of str to str
        Expected hex SHA-256 digest of each file. Every file needs one.
    title : str
        Dataset name used in messages.
    manual_files : sequence of str, default=None
        Files to name in the error message as the ones to place by hand;
        ``filenames`` when None.
    retries, backoff, timeout : int, float, float, default=None
        Override the module's ``RETRIES``, ``BACKOFF`` and ``TIMEOUT``.
    verbose : bool, default=None
        Show a progress bar. None shows it only on a terminal.

    Returns
    -------
    paths : list of str
        Paths of the downloaded files, in the order of ``filenames``.

    Raises
    ------
    DownloadError
        When a file could not be downloaded and verified from any mirror.
    """
    retries = RETRIES if retries is None else retries
    backoff = BACKOFF if backoff is None else backoff
    timeout = TIMEOUT if timeout is None else timeout
    missing = [name for name in filenames if not sha256.get(name)]
    if missing:
        raise ValueError(f"no SHA-256 digest given for {', '.join(missing)}; "
                         "refusing to download unverified files")
    paths = []
    for name in filenames:
        failures = []
        path = None
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            path = _fetch_from_mirror(url, name, folder, sha256[name], failures,
                                      retries=retries, backoff=backoff,
                                      timeout=timeout, verbose=verbose)
            if path is not None:
                break
        if path is None:
            details = dict(title=title, failures=failures, mirrors=tuple(mirrors),
                           folder=folder, manual_files=tuple(manual_files or filenames))
            raise DownloadError(_failure_message(**details), details=details)
        paths.append(path)
    return paths


def _fetch_from_mirror(url, name, folder, digest, failures, *, retries, backoff,
                       timeout, verbose):
    """Try one URL up to ``1 + retries`` times; return the path or None."""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        where = f"{url} (attempt {attempt + 1} of {retries + 1})" if retries else url
        try:
            return _download(url, name, folder, digest, timeout=timeout, verbose=verbose)
        except _Transient as exc:
            failures.append(f"{where}: {exc}")
        except _Permanent as exc:
            failures.append(f"{where}: {exc}")
            return None
    return None


def _download(url, name, folder, digest, *, timeout, verbose):
    """Download one URL to ``folder/name`` if its SHA-256 matches ``digest``."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream(url, name, out, timeout=timeout, verbose=verbose)
            out.flush()
            os.fsync(out.fileno())
        if actual != digest.lower():
            raise _Permanent(f"SHA-256 mismatch (expected {digest}, got {actual})")
        path = os.path.join(folder, name)
        os.replace(tmp, path)
        _fsync_folder(folder)
        return path
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _stream(url, name, out, *, timeout, verbose):
    """Copy the body of ``url`` into ``out``; return its hex SHA-256."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    hasher = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            length = int(length) if length and length.isdigit() else None
            received = 0
            with tqdm(total=length, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=name, leave=False,
                      disable=None if verbose is None else not verbose) as bar:
                while chunk := response.read(CHUNK_SIZE):
                    out.write(chunk)
                    hasher.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        error = _Transient if exc.code >= 500 or exc.code in (408, 429) else _Permanent
        raise error(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
            raise _Permanent(f"cannot connect ({reason})") from exc
        raise _Transient(f"connection failed ({reason})") from exc
    except (http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError) as exc:
        raise _Transient(f"transfer failed ({type(exc).__name__}: {exc})") from exc
    if length is not None and received != length:
        raise _Transient(f"incomplete download: got {received} of {length} bytes")
    return hasher.hexdigest()


def _fsync_folder(folder):
    """Make the rename durable (POSIX); harmless to skip where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _failure_message(title, failures, mirrors, folder, manual_files, *,
                     other_folder="pass data_home= a folder"):
    lines = [f"Could not download {title}: every mirror failed."]
    lines += [f"  {failure}" for failure in failures]
    lines.append(f"Download these {len(manual_files)} files by hand from one of")
    lines += [f"  {mirror}" for mirror in mirrors]
    lines.append("and place them in")
    lines.append(f"  {folder}")
    lines += [f"    {name}" for name in manual_files]
    lines.append(f"or {other_folder} that already holds them.")
    return "\n".join(lines)
