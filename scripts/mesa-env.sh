# Source me (`. scripts/mesa-env.sh`): runs Sightline's kernels on the Mesa 25 lavapipe
# that scripts/setup.sh unpacked into .mesa/, on a machine without a GPU (no DRM render
# node, no NVIDIA device). A machine with one, or a VK_ICD_FILENAMES of the user's, is
# left as it is: the variable hides every other Vulkan driver.
_sightline_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -f "$_sightline_root/.mesa/lvp_icd.json" ] && [ -z "${VK_ICD_FILENAMES:-}" ] &&
  ! ls /dev/dri/renderD* /dev/nvidia0 >/dev/null 2>&1; then
  export VK_ICD_FILENAMES="$_sightline_root/.mesa/lvp_icd.json"
fi
unset _sightline_root
