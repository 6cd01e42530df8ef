package dev.llmplatform.inference.engine;

import dev.llmplatform.engine.Engine;
import dev.llmplatform.engine.parallel.ShardPlan;
import dev.llmplatform.nativekernels.Cuda;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * What serving a model over several GPUs needs, checked before any GPU memory is touched, so that a misconfigured
 * instance fails its load with every missing piece named at once (an operator fixes a pod spec once, not once per
 * restart): a Llama-family checkpoint, a tensor-parallel size that splits its heads, {@code NCCL_NVLS_ENABLE=0} in
 * the environment, one visible GPU per rank, and a loadable NCCL library.
 */
final class MultiGpuPreflight {
    /** The environment variable NCCL must see as 0 (native-kernels' NCCL group refuses to start otherwise). */
    static final String NVLS = "NCCL_NVLS_ENABLE";

    private MultiGpuPreflight() {
    }

    /**
     * @param devices one CUDA device per rank
     * @param env     the process environment ({@code System::getenv}; tests pass their own)
     * @return what is missing, one sentence each saying what to set; empty when the load may start
     */
    static List<String> problems(Engine engine, int[] devices, UnaryOperator<String> env) {
        List<String> problems = new ArrayList<>();
        String refused = CudaRunner.tensorParallelRefusal(engine, engine.modelType());
        if (refused != null) {
            problems.add(refused);
        } else {
            try {
                ShardPlan.of(engine.model().spec(), devices.length, engine.model().name());
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage() + " (set llm.inference.tensor-parallel-size to a size that fits)");
            }
        }
        if (!"0".equals(env.apply(NVLS))) {
            problems.add("the environment variable " + NVLS + "=0 is not set: NCCL's NVLink multicast must stay off "
                    + "(on shared multi-GPU hosts it can take every GPU of the host out of service), and NCCL reads it "
                    + "from the process environment (set it in the container's env, not as a Java property)");
        }
        String gpus = gpuProblem(devices, env);
        if (gpus != null) {
            problems.add(gpus);
        } else {
            // Only once CUDA loads: the NCCL bindings need the CUDA runtime, so without it they fail for that reason.
            String nccl = ncclProblem();
            if (nccl != null) {
                problems.add(nccl);
            }
        }
        return problems;
    }

    private static String gpuProblem(int[] devices, UnaryOperator<String> env) {
        String needed = devices.length + " GPUs (devices " + Arrays.toString(devices) + ")";
        String visibleVar = env.apply("CUDA_VISIBLE_DEVICES");
        String where = visibleVar == null ? "" : " with CUDA_VISIBLE_DEVICES=" + visibleVar;
        if (!Cuda.available()) {
            return needed + " are needed, but CUDA finds none" + where + " (" + Cuda.unavailableReason() + "): run on "
                    + "a node with " + devices.length + " NVIDIA GPUs and their driver (in Kubernetes, limits "
                    + "nvidia.com/gpu: " + devices.length + "), or set llm.inference.backend=cpu";
        }
        int visible = Cuda.deviceCount();
        int highest = Arrays.stream(devices).max().orElse(0);
        if (highest >= visible) {
            return needed + " are needed, but " + visible + " GPU(s) are visible" + where + ": give the process "
                    + "more GPUs (in Kubernetes, limits nvidia.com/gpu: " + devices.length + "), or set "
                    + "llm.inference.tensor-parallel-size (and llm.inference.cuda-devices) to what it has";
        }
        return null;
    }

    private static String ncclProblem() {
        try {
            int[] version = new int[1];
            int rc = org.bytedeco.cuda.global.nccl.ncclGetVersion(version);
            return rc == 0 ? null : "NCCL does not answer (ncclGetVersion returned " + rc + ")";
        } catch (LinkageError | RuntimeException e) {
            return "the NCCL library (libnccl.so.2) does not load (" + CudaRunner.describe(e) + "): install NCCL 2 "
                    + "in the image (NVIDIA's libnccl2 package) or put its directory on LD_LIBRARY_PATH";
        }
    }
}
