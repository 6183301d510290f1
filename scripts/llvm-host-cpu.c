/*
 * Preloaded into Sightline's processes on AMD Zen 3/4 machines without a GPU
 * (scripts/mesa-env.sh): lavapipe's JIT asks LLVM which CPU it runs on
 * (llvm::sys::getHostCPUName) and tunes its code for it. For "znver3" LLVM 15 turns
 * every per-lane load of a kernel into tested, branched scalar loads (its cost model
 * calls AVX2 gathers slow on Zen); for "skylake" it emits hardware gathers, and the model
 * runs ~1.3x faster on Zen 3 (docs/performance.md, "lavapipe's code for our kernels").
 * The instruction set is not in question: lavapipe enables features from cpuid itself,
 * and every Skylake instruction exists on Zen.
 *
 * The CPU LLVM is told is SIGHTLINE_LAVAPIPE_CPU; unset, empty or "native", LLVM's own
 * answer. The symbol is LLVM's C++ name for `StringRef llvm::sys::getHostCPUName()`, and
 * a StringRef is {pointer, length}, which the x86-64 ABI returns in two registers.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

struct llvm_string_ref {
  const char *data;
  size_t length;
};

struct llvm_string_ref _ZN4llvm3sys14getHostCPUNameEv(void) {
  const char *name = getenv("SIGHTLINE_LAVAPIPE_CPU");
  if (name == NULL || name[0] == '\0' || strcmp(name, "native") == 0) {
    struct llvm_string_ref (*llvm_own)(void) = dlsym(RTLD_NEXT, "_ZN4llvm3sys14getHostCPUNameEv");
    if (llvm_own != NULL)
      return llvm_own();
    name = "generic";
  }
  struct llvm_string_ref cpu = {name, strlen(name)};
  return cpu;
}
