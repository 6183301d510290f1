//! Choosing the compute device: a real GPU when there is one, lavapipe otherwise.

// The probe is only called with CUDA; its messages are tested in every build.
#[cfg(any(feature = "cuda", test))]
mod cuda;

use crate::EngineError;
use cubecl::device::WgpuDeviceKind;
use cubecl::prelude::*;
use cubecl::Device;

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The best device present: CUDA (if compiled in), then a discrete or integrated GPU
    /// through Vulkan/Metal/DX12, then whatever wgpu offers (lavapipe on CPU-only hosts).
    #[default]
    Auto,
    /// NVIDIA through CUDA (needs the `cuda` cargo feature).
    Cuda,
    /// The first GPU-class adapter that wgpu finds (Vulkan, Metal or DX12).
    Vulkan,
    /// The CPU, through a software Vulkan driver (Mesa lavapipe).
    Cpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, EngineError> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cuda" => Ok(DeviceChoice::Cuda),
            "vulkan" | "wgpu" => Ok(DeviceChoice::Vulkan),
            "cpu" => Ok(DeviceChoice::Cpu),
            other => Err(EngineError::Device {
                requested: other.to_string(),
                reason: "unknown device (expected auto, cuda, vulkan or cpu)".into(),
            }),
        }
    }
}

impl DeviceChoice {
    /// The device for kernel tests: CUDA when compiled in, otherwise any wgpu device.
    pub fn test_default() -> DeviceChoice {
        if cfg!(feature = "cuda") {
            DeviceChoice::Cuda
        } else {
            DeviceChoice::Auto
        }
    }

    pub fn open(self) -> Result<Gpu, EngineError> {
        let unavailable = |reason: String| EngineError::Device {
            requested: format!("{self:?}").to_lowercase(),
            reason,
        };
        let device = match self {
            DeviceChoice::Cuda => open_cuda().map_err(unavailable)?,
            DeviceChoice::Vulkan => [
                WgpuDeviceKind::DiscreteGpu(0),
                WgpuDeviceKind::IntegratedGpu(0),
            ]
            .into_iter()
            .find_map(|kind| Device::wgpu(kind).ok())
            .ok_or_else(|| unavailable("no GPU adapter found by wgpu".into()))?,
            DeviceChoice::Cpu => Device::vulkan(WgpuDeviceKind::Cpu).map_err(|e| {
                unavailable(format!(
                    "{e} (install a software Vulkan driver, e.g. Debian's mesa-vulkan-drivers)"
                ))
            })?,
            DeviceChoice::Auto => open_cuda()
                .inspect_err(|reason| {
                    if cfg!(feature = "cuda") {
                        tracing::info!("not on CUDA: {reason}");
                    }
                })
                .or_else(|_| Device::wgpu(WgpuDeviceKind::DiscreteGpu(0)))
                .or_else(|_| Device::wgpu(WgpuDeviceKind::IntegratedGpu(0)))
                .or_else(|_| Device::wgpu(WgpuDeviceKind::DefaultDevice))
                .map_err(|e| unavailable(format!("no compute device found: {e}")))?,
        };
        let client = device.client();
        // The adapter as it names itself ("NVIDIA H100 PCIe", "llvmpipe (LLVM 15.0.6, 256
        // bits)") and the runtime/compiler path ("wgpu<wgsl>", "cuda").
        let name = format!("{} [{}]", client.properties().identity.name, client.name());
        Ok(Gpu {
            name,
            device,
            client,
        })
    }
}

/// CUDA device 0, or why not, in one line.
#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Device, String> {
    if let Some(missing) = cuda::CudaLibraries::probe().missing() {
        return Err(missing);
    }
    Device::cuda(0).map_err(|e| match e {
        cubecl::device::DeviceUnavailable::NoSuchDevice { .. } => {
            "the NVIDIA driver loads but reports no CUDA device (CUDA_VISIBLE_DEVICES?)".to_string()
        }
        other => other.to_string(),
    })
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Device, String> {
    Err("this build has no CUDA (cargo build --features cuda)".into())
}

/// An opened device and its compute client.
#[derive(Clone)]
pub struct Gpu {
    device: Device,
    client: Client,
    name: String,
}

impl Gpu {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Adapter and runtime, for logs and benchmark tables.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until every launched kernel has finished.
    pub fn sync(&self) -> Result<(), EngineError> {
        cubecl::future::block_on(self.client.sync())
            .map_err(|e| EngineError::Execution(format!("{e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `--device cuda` says here: that the build has no CUDA, or which library the
    /// machine lacks (cuda.rs tests each message); a machine with both opens the device.
    #[test]
    fn cuda_says_in_one_line_what_is_missing() {
        #[cfg(feature = "cuda")]
        let missing = cuda::CudaLibraries::probe().missing();
        #[cfg(not(feature = "cuda"))]
        let missing = Some("this build has no CUDA (cargo build --features cuda)".to_string());
        match (missing, DeviceChoice::Cuda.open()) {
            (Some(reason), Err(e)) => assert_eq!(
                e.to_string(),
                format!("device \"cuda\" unavailable: {reason}")
            ),
            (None, Ok(_)) => {}
            (missing, Ok(gpu)) => panic!("opened {} although {missing:?}", gpu.name()),
            (None, Err(e)) => panic!("{e}, with libcuda and libnvrtc present"),
        }
    }
}
