use super::*;
use sightline_detect::Class;
use sightline_geometry::nalgebra::Point3;
use std::path::Path;

const MODEL: (u32, u32) = (416, 416);
const KITTI: (u32, u32) = (1242, 375);

fn calibration(file: &str) -> Calibration {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../calibration")
        .join(file);
    Calibration::load(&path).expect("shipped calibration")
}

fn covered(tiles: &[Region], x: u32, y: u32) -> bool {
    tiles
        .iter()
        .any(|t| (t.x..t.x + t.width).contains(&x) && (t.y..t.y + t.height).contains(&y))
}

/// Every pixel of rows `rows` (all columns) lies in some tile.
fn covers_rows(tiles: &[Region], width: u32, rows: std::ops::Range<u32>) -> bool {
    rows.clone()
        .all(|y| (0..width).all(|x| covered(tiles, x, y)))
}

/// A box lies whole inside one tile.
fn inside_one(tiles: &[Region], b: [f64; 4]) -> bool {
    tiles.iter().any(|t| {
        let [x1, y1, x2, y2] = t.bbox().map(f64::from);
        b[0] >= x1 && b[1] >= y1 && b[2] <= x2 && b[3] <= y2
    })
}

/// Neighbours in a row (same y) overlap by at least MIN_OVERLAP, and every tile is at
/// most the model's size.
fn overlaps_and_sizes_ok(tiles: &[Region], tile: (u32, u32)) {
    for t in tiles {
        assert!(
            t.width <= tile.0 && t.height <= tile.1,
            "{t:?} is larger than a tile"
        );
    }
    let mut rows: Vec<u32> = tiles.iter().map(|t| t.y).collect();
    rows.dedup();
    for y in rows {
        let mut row: Vec<&Region> = tiles.iter().filter(|t| t.y == y).collect();
        row.sort_by_key(|t| t.x);
        for pair in row.windows(2) {
            let overlap = (pair[0].x + pair[0].width).saturating_sub(pair[1].x);
            assert!(overlap >= MIN_OVERLAP, "{pair:?} overlap by {overlap}");
        }
    }
}

#[test]
fn tiling_values_parse_and_bad_ones_name_themselves() {
    assert_eq!("off".parse(), Ok(Tiling::Off));
    assert_eq!("auto".parse(), Ok(Tiling::Auto));
    assert_eq!("grid:3x1".parse(), Ok(Tiling::Grid { cols: 3, rows: 1 }));
    for t in [Tiling::Off, Tiling::Auto, Tiling::Grid { cols: 2, rows: 4 }] {
        assert_eq!(t.to_string().parse(), Ok(t));
    }
    for bad in [
        "",
        "on",
        "grid",
        "grid:3",
        "grid:0x1",
        "grid:ax2",
        "grid:9x1",
        "grid:2x-1",
    ] {
        let err = bad.parse::<Tiling>().expect_err(bad).to_string();
        assert!(err.contains(&format!("{bad:?}")), "{err}");
        assert!(err.contains("grid:COLSxROWS"), "{err}");
    }
}

#[test]
fn auto_without_calibration_covers_a_kitti_frame_with_four_native_tiles() {
    let tiles = tiles(Tiling::Auto, KITTI, MODEL, None);
    assert_eq!(tiles.len(), 4, "{tiles:?}");
    assert!(tiles.iter().all(|t| t.width == 416 && t.height == 375));
    assert!(
        covers_rows(&tiles, KITTI.0, 0..KITTI.1),
        "not all of the frame"
    );
    overlaps_and_sizes_ok(&tiles, MODEL);
}

#[test]
fn auto_without_calibration_covers_a_tall_frame_with_a_grid() {
    let frame = (1280, 720);
    let tiles = tiles(Tiling::Auto, frame, MODEL, None);
    // ceil((1280 - 64) / 352) = 4 columns, ceil((720 - 64) / 352) = 2 rows.
    assert_eq!(tiles.len(), 8, "{tiles:?}");
    assert!(covers_rows(&tiles, frame.0, 0..frame.1));
    overlaps_and_sizes_ok(&tiles, MODEL);
}

#[test]
fn auto_adds_nothing_to_a_frame_that_fits_the_model() {
    assert!(tiles(Tiling::Auto, (400, 300), MODEL, None).is_empty());
    assert!(tiles(Tiling::Auto, (416, 416), MODEL, None).is_empty());
    assert!(tiles(Tiling::Off, KITTI, MODEL, None).is_empty());
    assert!(tiles(Tiling::Grid { cols: 1, rows: 1 }, KITTI, MODEL, None).is_empty());
}

#[test]
fn grid_tiles_cover_the_frame_with_overlap() {
    let frame = (400, 300);
    let tiles = tiles(Tiling::Grid { cols: 2, rows: 2 }, frame, MODEL, None);
    assert_eq!(tiles.len(), 4);
    assert!(covers_rows(&tiles, frame.0, 0..frame.1));
    // (400 + 64) / 2 = 232 wide, (300 + 64) / 2 = 182 tall.
    assert!(
        tiles.iter().all(|t| (t.width, t.height) == (232, 182)),
        "{tiles:?}"
    );
    overlaps_and_sizes_ok(&tiles, (232, 182));
}

#[test]
fn the_kitti_band_is_around_the_horizon_and_its_tiles_cover_it() {
    let calib = calibration("kitti_cam2.yaml");
    let (top, bottom) = distant_band(&calib).expect("a level camera sees the road ahead");
    // Level camera, principal point row 180.5: the horizon is row ~180.5; the road 20 m
    // ahead is 707 · 1.65 / 20 ≈ 58 rows below it, a 6 m light ≈ 123 rows above.
    assert!(
        (top - (180.5 - 707.0 * (6.0 - 1.648) / 20.0)).abs() < 2.0,
        "top {top}"
    );
    assert!(
        (bottom - (180.5 + 707.0 * 1.648 / 20.0)).abs() < 2.0,
        "bottom {bottom}"
    );
    let tiles = tiles(Tiling::Auto, KITTI, MODEL, Some((top, bottom)));
    assert_eq!(tiles.len(), 4, "{tiles:?}");
    assert!(covers_rows(
        &tiles,
        KITTI.0,
        top as u32..bottom.ceil() as u32
    ));
    overlaps_and_sizes_ok(&tiles, MODEL);
}

#[test]
fn calibrated_tiles_see_distant_people_and_lights_and_skip_sky_and_bonnet() {
    let calib = calibration("front_1920x1080.yaml");
    let frame = (1920, 1080);
    let band = distant_band(&calib).expect("band");
    let tiled = tiles(Tiling::Auto, frame, MODEL, Some(band));
    let full = tiles(Tiling::Auto, frame, MODEL, None);
    assert!(
        tiled.len() < full.len(),
        "{} vs {}",
        tiled.len(),
        full.len()
    );
    overlaps_and_sizes_ok(&tiled, MODEL);
    // The claim: what is 20 m or further and 0–6 m above the road, across the lane and
    // its neighbours, lies whole inside a tile (ground truth by projection, not by the
    // band's own arithmetic).
    let camera = calib.mount().position();
    let project = |x: f64, y: f64, z: f64| {
        calib
            .project(&Point3::new(camera.x + x, y, z))
            .expect("ahead of the camera")
    };
    for distance in [20.0, 30.0, 60.0, 150.0] {
        for lateral in [-3.5, 0.0, 3.5] {
            // A pedestrian 0.6 m wide, 1.8 m tall.
            let feet = project(distance, lateral - 0.3, 0.0);
            let head = project(distance, lateral + 0.3, 1.8);
            let person = [head.x.min(feet.x), head.y, head.x.max(feet.x), feet.y];
            assert!(
                inside_one(&tiled, person),
                "person at {distance} m: {person:?}"
            );
            // A traffic light 0.35 m wide, 1 m tall, its top 5.9 m above the road.
            let top = project(distance, lateral - 0.17, 5.9);
            let bottom = project(distance, lateral + 0.17, 4.9);
            let light = [top.x.min(bottom.x), top.y, top.x.max(bottom.x), bottom.y];
            assert!(
                inside_one(&tiled, light),
                "light at {distance} m: {light:?}"
            );
        }
    }
    // And it skips what cannot be distant: sky above a 6 m object at 20 m (rows above
    // the band's top, less a tile's slack) and the road nearer than ~12 m and the bonnet.
    let ten_m_road = project(12.0, 0.0, 0.0).y as u32;
    let sky_row = (band.0 as u32).saturating_sub(1);
    let rows_covered = |y: u32| (0..frame.0).any(|x| covered(&tiled, x, y));
    assert!(
        !rows_covered(ten_m_road),
        "road at 12 m (row {ten_m_road}) is tiled"
    );
    assert!(!rows_covered(frame.1 - 1), "bonnet row is tiled");
    assert!(sky_row > 0 && !rows_covered(0), "top row (sky) is tiled");
}

#[test]
fn a_band_outside_the_frame_gets_no_tiles() {
    assert!(tiles(Tiling::Auto, (1920, 1080), MODEL, Some((-900.0, -100.0))).is_empty());
}

fn det(class: Class, score: f32, bbox: [f32; 4]) -> Detection {
    Detection { class, score, bbox }
}

/// The four native tiles of a KITTI frame.
fn kitti_passes() -> (Region, Vec<Region>) {
    (
        Region::whole(KITTI.0, KITTI.1),
        tiles(Tiling::Auto, KITTI, MODEL, None),
    )
}

#[test]
fn a_box_crossing_a_tile_border_comes_out_as_one_box() {
    let (frame, tiles) = kitti_passes();
    let (a, b) = (tiles[0], tiles[1]);
    let border = (a.x + a.width) as f32; // tile 0's right border, inside tile 1
                                         // A pedestrian across both borders of the overlap: wider than it, so neither tile
                                         // sees it whole. The whole frame finds it (weaker), each tile finds its cut part.
    let person = [b.x as f32 - 25.0, 100.0, border + 24.0, 330.0];
    let clip = |r: Region| {
        let [x1, y1, x2, y2] = r.bbox();
        [
            person[0].clamp(x1, x2),
            person[1].clamp(y1, y2),
            person[2].clamp(x1, x2),
            person[3].clamp(y1, y2),
        ]
    };
    let passes = vec![
        Pass {
            region: frame,
            detections: vec![det(Class::Pedestrian, 0.6, person)],
        },
        Pass {
            region: a,
            detections: vec![det(Class::Pedestrian, 0.9, clip(a))],
        },
        Pass {
            region: b,
            detections: vec![det(Class::Pedestrian, 0.8, clip(b))],
        },
    ];
    // Without the fragment rule, class-aware NMS alone keeps the best-scoring piece.
    let all: Vec<Detection> = passes.iter().flat_map(|p| p.detections.clone()).collect();
    let nms_only = non_max_suppression(all, 0.65, 100);
    assert!(
        nms_only.iter().all(|d| d.bbox != person),
        "the case is a real one"
    );
    let merged = merge(frame, &passes, 0.65, 100);
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].bbox, person);
}

#[test]
fn an_object_in_the_overlap_keeps_the_box_of_the_tile_that_saw_it_whole() {
    let (frame, tiles) = kitti_passes();
    let (a, b) = (tiles[0], tiles[1]);
    let border = (a.x + a.width) as f32;
    // 40 px wide, in the overlap, cut by tile 0's right border; the whole frame misses it.
    let person = [border - 25.0, 150.0, border + 15.0, 240.0];
    let fragment = [border - 25.0, 150.0, border, 240.0];
    let passes = vec![
        Pass {
            region: frame,
            detections: vec![],
        },
        Pass {
            region: a,
            detections: vec![det(Class::Pedestrian, 0.7, fragment)],
        },
        Pass {
            region: b,
            detections: vec![det(Class::Pedestrian, 0.5, person)],
        },
    ];
    let merged = merge(frame, &passes, 0.65, 100);
    assert_eq!(merged, vec![det(Class::Pedestrian, 0.5, person)]);
}

#[test]
fn cut_boxes_that_nothing_covers_stay_and_classes_do_not_mix() {
    let (frame, tiles) = kitti_passes();
    let a = tiles[0];
    let border = (a.x + a.width) as f32;
    let cut = [border - 30.0, 10.0, border, 60.0];
    let passes = vec![
        Pass {
            region: frame,
            // A stop sign covers the cut traffic light: another class, no cover.
            detections: vec![det(
                Class::StopSign,
                0.9,
                [border - 40.0, 0.0, border + 40.0, 70.0],
            )],
        },
        Pass {
            region: a,
            detections: vec![
                det(Class::TrafficLight, 0.4, cut),
                // Touching the frame's own left border is not a cut.
                det(Class::Pedestrian, 0.5, [0.0, 100.0, 20.0, 150.0]),
            ],
        },
    ];
    let merged = merge(frame, &passes, 0.65, 100);
    assert_eq!(merged.len(), 3, "{merged:?}");
    assert!(cut_by_tile_border(&cut, a, frame));
    assert!(!cut_by_tile_border(&[0.0, 100.0, 20.0, 150.0], a, frame));
    assert!(
        !cut_by_tile_border(&[10.0, 0.0, 20.0, 375.0], a, frame),
        "frame rows"
    );
}

#[test]
fn the_same_object_from_two_passes_is_kept_once_at_its_best_score() {
    let (frame, tiles) = kitti_passes();
    let a = tiles[0];
    let passes = vec![
        Pass {
            region: frame,
            detections: vec![det(Class::Pedestrian, 0.4, [101.0, 100.0, 131.0, 181.0])],
        },
        Pass {
            region: a,
            detections: vec![det(Class::Pedestrian, 0.8, [100.0, 100.0, 130.0, 180.0])],
        },
    ];
    let merged = merge(frame, &passes, 0.65, 100);
    assert_eq!(merged, vec![passes[1].detections[0]]);
}
