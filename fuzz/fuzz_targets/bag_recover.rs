//! `bag recover` on a damaged MCAP file from bytes. Whatever it keeps must be a bag that
//! opens and reads to the end without an error: recovery never hands on damage.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = sightline_fuzz::scratch_file("recover-in.mcap", data);
    let out = sightline_fuzz::scratch().join("recovered");
    let _ = std::fs::remove_dir_all(&out);
    let Ok(recovered) = sightline_bag::recover::recover(&input, &out) else {
        return;
    };
    let bag = sightline_bag::Bag::open(&recovered.output).expect("a recovered bag opens");
    assert_eq!(bag.info().message_count(), recovered.message_count());
    let messages = bag.messages(&[]).expect("a recovered bag reads");
    let mut read = 0;
    for message in messages {
        message.expect("every recovered message reads");
        read += 1;
    }
    assert_eq!(read, recovered.message_count());
});
