"""llama.cpp's load log read: buffer sizes in bytes, where they went, the trained context."""
import pytest

from helpers.memory.llama_log import (
    buffer_lines,
    buffers_by_device,
    cpu_buffers,
    overflow_warning,
    parse_llama_log,
    trained_context,
)

LOG = """llama_context: n_ctx         = 512
llama_context:        CPU  output buffer size =     0.00 MiB
llama_kv_cache:        CPU KV buffer size =    12.00 MiB
llama_kv_cache: size =   12.00 MiB (   512 cells,  24 layers,  1/1 seqs), K (f16):    6.00 MiB, V (f16):    6.00 MiB
llama_context:        CPU compute buffer size =   298.50 MiB
"""


def test_trained_context_and_overflow_warning_from_the_log():
    log = ("print_info: n_ctx_train           = 8192\n"
           "llama_context: n_ctx_seq (16384) > n_ctx_train (8192) -- possible training context overflow\n" + LOG)
    assert trained_context(log) == 8192
    assert overflow_warning(log) == ("llama_context: n_ctx_seq (16384) > n_ctx_train (8192) -- possible training "
                                     "context overflow")
    assert overflow_warning(LOG) == ""
    with pytest.raises(ValueError, match="n_ctx_train"):
        trained_context(LOG)


def test_parse_log_reads_bytes():
    b = parse_llama_log(LOG)
    assert b.kv_bytes == 12 * 2**20 and b.k_bytes == b.v_bytes == 6 * 2**20
    assert (b.cells, b.layers, b.k_type, b.v_type) == (512, 24, "f16", "f16")
    assert b.compute_bytes == round(298.5 * 2**20) and b.output_bytes == 0
    with pytest.raises(ValueError, match="kv_cache"):
        parse_llama_log("llama_context: n_ctx = 512\n")


def test_buffers_by_device_reads_a_gpu_load_log():
    log = ("load_tensors:        CUDA0 model buffer size =  4403.49 MiB\n"
           "load_tensors:   CPU_Mapped model buffer size =   281.81 MiB\n"
           "llama_kv_cache:      CUDA0 KV buffer size =  1024.00 MiB\n"
           "llama_context:      CUDA0 compute buffer size =   560.00 MiB\n"
           "llama_context:  CUDA_Host compute buffer size =    24.01 MiB\n")
    assert buffers_by_device(log) == {"model": {"CUDA0": 4403.49, "CPU_Mapped": 281.81}, "KV": {"CUDA0": 1024.0},
                                      "compute": {"CUDA0": 560.0, "CUDA_Host": 24.01}}


SWA_LOG = """llama_kv_cache:        CPU KV buffer size =     1.00 MiB
llama_kv_cache: size =    1.00 MiB (  1024 cells,   2 layers,  1/1 seqs), K (f16):    0.50 MiB, V (f16):    0.50 MiB
llama_kv_cache:        CPU KV buffer size =     5.00 MiB
llama_kv_cache: size =    5.00 MiB (  1024 cells,  10 layers,  1/1 seqs), K (f16):    2.50 MiB, V (f16):    2.50 MiB
sched_reserve:  CUDA_Host compute buffer size =     2.00 MiB
sched_reserve:        CPU compute buffer size =    15.51 MiB
~llama_context:        CPU compute buffer size is  15.5137 MiB, matches expectation of  15.5137 MiB
"""


def test_buffer_lines_keep_every_line_in_order_and_refuse_unknown_kinds():
    assert buffer_lines(SWA_LOG, "KV") == [("CPU", 1.0), ("CPU", 5.0)]
    assert buffer_lines(SWA_LOG, "compute") == [("CUDA_Host", 2.0), ("CPU", 15.51)]
    with pytest.raises(ValueError, match="'weights'"):
        buffer_lines(SWA_LOG, "weights")


def test_cpu_buffers_add_both_caches_and_read_the_cpu_compute_buffer():
    assert cpu_buffers(SWA_LOG) == {"kv_cache_bytes": 6 * 2**20, "compute_buffer_bytes": 15.51 * 2**20}
    assert parse_llama_log(SWA_LOG).kv_bytes == 5 * 2**20  # the last cache created, alone
    with pytest.raises(RuntimeError, match="buffer sizes"):
        cpu_buffers(LOG.replace("CPU compute", "CUDA0 compute"))
