# Source me (`. scripts/mesa-env.sh`): runs Sightline's kernels on the Mesa 25 lavapipe
# that scripts/setup.sh unpacked into .mesa/, on a machine without a GPU (no DRM render
# node, no NVIDIA device). A machine with one, or a VK_ICD_FILENAMES of the user's, is
# left as it is: the variable hides every other Vulkan driver.
_sightline_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$_sightline_root/.mesa/lvp_icd.json" ] && [ -z "${VK_ICD_FILENAMES:-}" ] &&
  ! ls /dev/dri/renderD* /dev/nvidia0 >/dev/null 2>&1; then
  export VK_ICD_FILENAMES="$_sightline_root/.mesa/lvp_icd.json"
  # On AMD Zen 3/4 (cpu family 25) lavapipe's kernels run faster tuned for "skylake"
  # (scripts/llvm-host-cpu.c). SIGHTLINE_LAVAPIPE_CPU=native before sourcing keeps LLVM's
  # own choice; any other value names the CPU to tune for.
  _shim="$_sightline_root/.mesa/libllvm-host-cpu.so"
  if [ -f "$_shim" ] && [ "${SIGHTLINE_LAVAPIPE_CPU:-}" != native ] &&
    grep -qs '^vendor_id.*AuthenticAMD' /proc/cpuinfo &&
    grep -qs '^cpu family[[:space:]]*: 25$' /proc/cpuinfo; then
    export SIGHTLINE_LAVAPIPE_CPU="${SIGHTLINE_LAVAPIPE_CPU:-skylake}"
    case ":${LD_PRELOAD:-}:" in
      *":$_shim:"*) ;;
      *) export LD_PRELOAD="$_shim${LD_PRELOAD:+:$LD_PRELOAD}" ;;
    esac
    # Mesa keys its shader cache by CPU features, not by the CPU tuned for: code of each
    # tuning keeps a folder of its own, so that a change of tuning takes effect.
    export MESA_SHADER_CACHE_DIR="${MESA_SHADER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sightline-mesa-$SIGHTLINE_LAVAPIPE_CPU}"
  fi
  unset _shim
fi
unset _sightline_root
