//! The ROS 2 messages Sightline reads (`sensor_msgs`) and writes (`vision_msgs` 4.x), with
//! their CDR layouts. Field order and types follow the `.msg` files in `crates/bag/msg/`,
//! which are also the schema text written into our bags.

mod sensor;
mod vision;

pub use sensor::{CameraInfo, CompressedImage, Image, RegionOfInterest};
// The message structs are shared with the node and the pipeline; this crate adds their
// CDR layouts.
pub use sightline_types::msgs::{
    BoundingBox2D, BoundingBox3D, Detection2D, Detection2DArray, Detection3D, Detection3DArray,
    Header, ObjectHypothesisWithPose, Point, Pose, Quaternion, Time, Vector3,
};

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::CdrError;

/// A message type with a CDR layout. `'a` is the lifetime of the serialised bytes that
/// large byte fields (image data) borrow from.
pub trait Message<'a>: Sized {
    /// The ROS 2 type name, e.g. `sensor_msgs/msg/Image`.
    const TYPE_NAME: &'static str;
    fn read(r: &mut CdrReader<'a>) -> Result<Self, CdrError>;
    fn write(&self, w: &mut CdrWriter);
}

/// Decodes one serialised message (encapsulation header included).
pub fn from_cdr<'a, M: Message<'a>>(bytes: &'a [u8]) -> Result<M, CdrError> {
    M::read(&mut CdrReader::new(bytes)?)
}

/// Serialises one message as little-endian CDR (encapsulation header included).
pub fn to_cdr<'a, M: Message<'a>>(message: &M) -> Vec<u8> {
    let mut w = CdrWriter::new();
    message.write(&mut w);
    w.finish()
}
