//! `builtin_interfaces`, `std_msgs` and the `sensor_msgs` camera messages.

use super::{Header, Message, Time};
use crate::cdr::{CdrReader, CdrWriter};
use crate::error::CdrError;

pub(crate) fn read_header(r: &mut CdrReader<'_>) -> Result<Header, CdrError> {
    let sec = r.i32("header.stamp.sec")?;
    let nanosec = r.u32("header.stamp.nanosec")?;
    let frame_id = r.string("header.frame_id")?;
    Ok(Header {
        stamp: Time { sec, nanosec },
        frame_id,
    })
}

pub(crate) fn write_header(w: &mut CdrWriter, header: &Header) {
    w.i32(header.stamp.sec);
    w.u32(header.stamp.nanosec);
    w.string(&header.frame_id);
}

/// `sensor_msgs/msg/Image`; `data` borrows from the serialised message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<'a> {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub encoding: String,
    pub is_bigendian: u8,
    pub step: u32,
    pub data: &'a [u8],
}

impl<'a> Message<'a> for Image<'a> {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Image";

    fn read(r: &mut CdrReader<'a>) -> Result<Self, CdrError> {
        Ok(Image {
            header: read_header(r)?,
            height: r.u32("height")?,
            width: r.u32("width")?,
            encoding: r.string("encoding")?,
            is_bigendian: r.u8("is_bigendian")?,
            step: r.u32("step")?,
            data: r.bytes("data")?,
        })
    }

    fn write(&self, w: &mut CdrWriter) {
        write_header(w, &self.header);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.encoding);
        w.u8(self.is_bigendian);
        w.u32(self.step);
        w.bytes(self.data);
    }
}

/// `sensor_msgs/msg/CompressedImage`; `format` is e.g. `jpeg`, `png` or
/// `rgb8; jpeg compressed bgr8` (image_transport's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedImage<'a> {
    pub header: Header,
    pub format: String,
    pub data: &'a [u8],
}

impl<'a> Message<'a> for CompressedImage<'a> {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CompressedImage";

    fn read(r: &mut CdrReader<'a>) -> Result<Self, CdrError> {
        Ok(CompressedImage {
            header: read_header(r)?,
            format: r.string("format")?,
            data: r.bytes("data")?,
        })
    }

    fn write(&self, w: &mut CdrWriter) {
        write_header(w, &self.header);
        w.string(&self.format);
        w.bytes(self.data);
    }
}

/// `sensor_msgs/msg/RegionOfInterest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionOfInterest {
    pub x_offset: u32,
    pub y_offset: u32,
    pub height: u32,
    pub width: u32,
    pub do_rectify: bool,
}

/// `sensor_msgs/msg/CameraInfo`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraInfo {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    pub k: [f64; 9],
    pub r: [f64; 9],
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: RegionOfInterest,
}

impl Message<'_> for CameraInfo {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CameraInfo";

    fn read(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(CameraInfo {
            header: read_header(r)?,
            height: r.u32("height")?,
            width: r.u32("width")?,
            distortion_model: r.string("distortion_model")?,
            d: r.f64_seq("d")?,
            k: r.f64_array("k")?,
            r: r.f64_array("r")?,
            p: r.f64_array("p")?,
            binning_x: r.u32("binning_x")?,
            binning_y: r.u32("binning_y")?,
            roi: RegionOfInterest {
                x_offset: r.u32("roi.x_offset")?,
                y_offset: r.u32("roi.y_offset")?,
                height: r.u32("roi.height")?,
                width: r.u32("roi.width")?,
                do_rectify: r.bool("roi.do_rectify")?,
            },
        })
    }

    fn write(&self, w: &mut CdrWriter) {
        write_header(w, &self.header);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.distortion_model);
        w.f64_seq(&self.d);
        w.f64_array(&self.k);
        w.f64_array(&self.r);
        w.f64_array(&self.p);
        w.u32(self.binning_x);
        w.u32(self.binning_y);
        w.u32(self.roi.x_offset);
        w.u32(self.roi.y_offset);
        w.u32(self.roi.height);
        w.u32(self.roi.width);
        w.bool(self.roi.do_rectify);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::{from_cdr, to_cdr};

    #[test]
    fn time_nanos_round_trip() {
        for ns in [0i64, 1, 1_700_000_000_123_456_789, -1, -1_500_000_000] {
            assert_eq!(Time::from_nanos(ns).as_nanos(), ns);
        }
        assert_eq!(
            Time::from_nanos(-1),
            Time {
                sec: -1,
                nanosec: 999_999_999
            }
        );
    }

    #[test]
    fn image_layout_matches_hand_assembled_bytes() {
        let data = [1u8, 2, 3, 4, 5, 6];
        let img = Image {
            header: Header {
                stamp: Time { sec: 5, nanosec: 6 },
                frame_id: "c".into(),
            },
            height: 1,
            width: 2,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: 6,
            data: &data,
        };
        let bytes = to_cdr(&img);
        let mut want = vec![0u8, 1, 0, 0];
        want.extend_from_slice(&5i32.to_le_bytes());
        want.extend_from_slice(&6u32.to_le_bytes());
        want.extend_from_slice(&2u32.to_le_bytes());
        want.extend_from_slice(b"c\0\0\0"); // string + pad to 4
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&2u32.to_le_bytes());
        want.extend_from_slice(&5u32.to_le_bytes());
        want.extend_from_slice(b"rgb8\0");
        want.push(0); // is_bigendian
        want.extend_from_slice(&[0, 0]); // pad to 4
        want.extend_from_slice(&6u32.to_le_bytes());
        want.extend_from_slice(&6u32.to_le_bytes());
        want.extend_from_slice(&data);
        assert_eq!(bytes, want);
        assert_eq!(from_cdr::<Image>(&bytes).unwrap(), img);
    }

    #[test]
    fn camera_info_round_trip() {
        let info = CameraInfo {
            header: Header {
                stamp: Time { sec: 1, nanosec: 2 },
                frame_id: "cam".into(),
            },
            height: 3,
            width: 4,
            distortion_model: "plumb_bob".into(),
            d: vec![0.1, -0.2, 0.3],
            k: [1.0, 0.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [5.0; 12],
            binning_x: 1,
            binning_y: 2,
            roi: RegionOfInterest {
                x_offset: 1,
                y_offset: 2,
                height: 3,
                width: 4,
                do_rectify: true,
            },
        };
        assert_eq!(from_cdr::<CameraInfo>(&to_cdr(&info)).unwrap(), info);
    }
}
