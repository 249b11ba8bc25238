"""PyTorch `.bin` checkpoints for TorchCheckpoint (Swift): real `torch.save` output and hostile files.

Good files (expected values in tb_expected.safetensors, keyed "<case>/<tensor name>"):
  tb_zip.bin             zip format: F32/F16/BF16/F64/I64/I32/U8/BOOL/U16 (v3), a storage shared by
                         four views (row, transpose, block), a permuted 3-D tensor, a scalar, an empty
                         tensor, nested dicts, a non-tensor entry
  tb_legacy.bin          the same (minus U16) with _use_new_zipfile_serialization=False
  tb_module.bin          state_dict() of a tiny nn.Module (OrderedDict with _metadata -> BUILD)
  tb_wrapped_legacy.bin  {"state_dict": <module state dict>, "epoch": 3}, legacy format
  tb_protocol4.bin       tb_module.bin's state dict pickled with protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)
  tb_rezip.bin           tb_zip.bin re-packed by Python's zipfile: unaligned data, sizes in local headers
Hostile files (raw pickle bytes written by hand, never unpickled here):
  tb_evil_os_system.bin, tb_evil_builtins_eval.bin (STACK_GLOBAL, protocol 4),
  tb_evil_getattr.bin (__builtin__.getattr), tb_evil_posix_system_legacy.bin (legacy stream),
  tb_bad_local_size.bin (local header size disagrees with the central directory),
  tb_truncated.bin, tb_deflated.bin, tb_storage_out_of_range.bin
"""
import collections
import io
import os
import pickle
import pickletools
import struct
import zipfile

import torch

from . import common

EXPECTED = {}


def fixture(name: str) -> str:
    return os.path.join(common.fixture_dir("MGTensor"), name)


def expect(case: str, tensors: dict, prefix: str = "") -> None:
    for key, value in tensors.items():
        if isinstance(value, dict):
            expect(case, value, prefix + key + ".")
        elif isinstance(value, torch.Tensor):
            EXPECTED[f"{case}/{prefix}{key}"] = value.detach().contiguous().clone()


def mixed_dict(with_v3: bool) -> dict:
    base = common.det_uniform(4, [4, 6])
    tensors = {
        "f32": common.det_uniform(1, [3, 4]),
        "f16": common.det_uniform(2, [5], -4, 4).half(),
        "bf16": common.det_uniform(3, [2, 3], -100, 100).bfloat16(),
        "f64": common.det_uniform(7, [3]).double() / 3,
        "i64": torch.tensor([0, -1, 2**40, -(2**62), 7], dtype=torch.int64),
        "i32": torch.tensor([-5, 6, 2**31 - 1], dtype=torch.int32),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        # One storage, four views: whole, row (offset 12), transpose, a strided block with offset.
        "shared.base": base,
        "shared.row": base[2],
        "shared.transposed": base.t(),
        "shared.block": base[1:3, 2:5],
        "permuted": common.det_uniform(5, [2, 3, 4]).permute(2, 0, 1),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "nested": {"a": common.det_uniform(6, [2]), "b": {"c": torch.tensor([1.0, -2.0])}},
        "step": 7,
    }
    if with_v3:
        tensors["u16"] = torch.tensor([1, 65535, 300], dtype=torch.int32).to(torch.uint16)
    assert tensors["shared.transposed"].untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
    return tensors


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.LayerNorm(4)
        self.head = torch.nn.Linear(4, 2)
        self.register_buffer("position_ids", torch.arange(5).unsqueeze(0))


def zip_bytes(entries: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()


def torch_zip_entries(path: str) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write(name: str, data: bytes) -> None:
    with open(fixture(name), "wb") as handle:
        handle.write(data)


ELEMENT_SIZES = {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8, "LongStorage": 8,
                 "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1}


class _StorageLister(pickle.Unpickler):
    """Walks our own legacy object pickle, recording each storage key's type; builds nothing real."""

    def __init__(self, stream):
        super().__init__(stream)
        self.types = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if name in ELEMENT_SIZES:
            return name
        return lambda *args, **kwargs: None

    def persistent_load(self, pid):
        self.types.setdefault(pid[2], pid[1])


def normalize_legacy_keys(path: str) -> None:
    """Legacy storage keys are memory addresses, and storages are written in key order: rename them
    to same-length indices in order of first use and rewrite the storages in that order, so the
    file is reproducible."""
    with open(path, "rb") as handle:
        raw = handle.read()
    stream = io.BytesIO(raw)
    for _ in range(3):  # magic, protocol version, system info
        for _ in pickletools.genops(stream):
            pass
    lister = _StorageLister(stream)
    lister.load()
    object_end = stream.tell()
    old_keys = pickle.load(stream)  # a list of str, written by torch.save just now
    sections = {}
    cursor = stream.tell()
    for key in old_keys:
        (count,) = struct.unpack_from("<Q", raw, cursor)
        size = 8 + count * ELEMENT_SIZES[lister.types[key]]
        sections[key] = raw[cursor:cursor + size]
        cursor += size
    assert cursor == len(raw)
    head = raw[:object_end]
    renamed = {}
    for index, key in enumerate(lister.types):
        renamed[key] = str(index).zfill(len(key))
        head = head.replace(binunicode(key), binunicode(renamed[key]))
    order = list(lister.types)
    body = pickle.dumps([renamed[key] for key in order], protocol=2) + b"".join(sections[key] for key in order)
    write(os.path.basename(path), head + body)


def evil_zip(pickle_bytes: bytes) -> bytes:
    return zip_bytes({"archive/data.pkl": pickle_bytes, "archive/byteorder": b"little", "archive/version": b"3\n"})


def binunicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def short(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def hostile_files() -> None:
    # A state dict that starts normally, then names os.system: refused at the GLOBAL opcode.
    write("tb_evil_os_system.bin", evil_zip(
        b"\x80\x02ccollections\nOrderedDict\n)R(" + binunicode("w")
        + b"cos\nsystem\n" + binunicode("echo pwned") + b"\x85Ru."))
    # Protocol 4: STACK_GLOBAL with the names as short strings.
    write("tb_evil_builtins_eval.bin", evil_zip(
        b"\x80\x04" + short("builtins") + short("eval") + b"\x93" + short("__import__('os')") + b"\x85R."))
    write("tb_evil_getattr.bin", evil_zip(
        b"\x80\x02c__builtin__\ngetattr\n" + b"ccollections\nOrderedDict\n" + binunicode("x") + b"\x86R."))
    header = (pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
              + pickle.dumps({"protocol_version": 1001, "little_endian": True,
                              "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2))
    write("tb_evil_posix_system_legacy.bin",
          header + b"\x80\x02}(" + binunicode("w") + b"cposix\nsystem\n" + binunicode("id") + b"\x85Ru.")

    # Local header of data/0 claims 4 bytes more than the central directory.
    data = bytearray(zip_bytes(torch_zip_entries(fixture("tb_module.bin"))))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    offset = info.header_offset
    assert data[offset:offset + 4] == b"PK\x03\x04"
    struct.pack_into("<II", data, offset + 18, info.file_size + 4, info.file_size + 4)
    write("tb_bad_local_size.bin", bytes(data))

    with open(fixture("tb_module.bin"), "rb") as handle:
        module_bytes = handle.read()
    write("tb_truncated.bin", module_bytes[: len(module_bytes) * 3 // 5])
    write("tb_deflated.bin", zip_bytes(torch_zip_entries(fixture("tb_module.bin")), zipfile.ZIP_DEFLATED))

    # A tensor viewing elements [2, 4) of a 4-element storage, patched to claim offset 3.
    path = fixture("tb_storage_out_of_range.bin")
    torch.save({"x": torch.arange(4.0)[2:]}, path)
    with open(path, "rb") as handle:
        raw = handle.read()
    pattern = b"QK\x02K\x02\x85"
    assert raw.count(pattern) == 1, "unexpected pickle layout"
    write("tb_storage_out_of_range.bin", raw.replace(pattern, b"QK\x03K\x02\x85"))


def generate() -> None:
    EXPECTED.clear()
    with_v3 = mixed_dict(with_v3=True)
    torch.save(with_v3, fixture("tb_zip.bin"))
    expect("zip", with_v3)
    legacy = mixed_dict(with_v3=False)
    torch.save(legacy, fixture("tb_legacy.bin"), _use_new_zipfile_serialization=False)
    normalize_legacy_keys(fixture("tb_legacy.bin"))
    expect("legacy", legacy)

    model = Tiny()
    with torch.no_grad():
        for index, parameter in enumerate(model.parameters()):
            parameter.copy_(common.det_uniform(20 + index, list(parameter.shape)))
    state = model.state_dict()
    assert isinstance(state, collections.OrderedDict) and hasattr(state, "_metadata")
    torch.save(state, fixture("tb_module.bin"))
    expect("module", state)
    torch.save({"state_dict": state, "epoch": 3}, fixture("tb_wrapped_legacy.bin"), _use_new_zipfile_serialization=False)
    normalize_legacy_keys(fixture("tb_wrapped_legacy.bin"))
    torch.save(state, fixture("tb_protocol4.bin"), pickle_protocol=4)

    write("tb_rezip.bin", zip_bytes(torch_zip_entries(fixture("tb_zip.bin"))))

    # Sanity: torch reads every good file back to exactly the expected tensors.
    cases = {"tb_zip.bin": "zip", "tb_rezip.bin": "zip", "tb_legacy.bin": "legacy", "tb_module.bin": "module",
             "tb_wrapped_legacy.bin": "module", "tb_protocol4.bin": "module"}
    for name, case in cases.items():
        # torch's own weights-only unpickler rejects FRAME; the protocol-4 file is ours, written just now.
        loaded = torch.load(fixture(name), weights_only=name != "tb_protocol4.bin")
        flat = {}
        before = dict(EXPECTED)
        expect("check", loaded.get("state_dict", loaded))
        for key in [k for k in EXPECTED if k.startswith("check/")]:
            flat[key[len("check/"):]] = EXPECTED.pop(key)
        expected = {k[len(case) + 1:]: v for k, v in before.items() if k.startswith(case + "/")}
        assert flat.keys() == expected.keys(), name
        assert all(torch.equal(flat[k], expected[k]) and flat[k].dtype == expected[k].dtype for k in flat), name

    hostile_files()
    common.save_fixture("MGTensor", "tb_expected", EXPECTED, description="expected tensors of the tb_*.bin checkpoints")
