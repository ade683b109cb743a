//! Print the `FileReport` of each file given (a debugging aid):
//! `cargo run -p privtrail-ingest --example report -- FILE…`.

use std::ops::ControlFlow;

use privtrail_ingest::{Options, expand_inputs, read_file};

fn main() {
    let specs: Vec<String> = std::env::args().skip(1).collect();
    let (files, errors) = expand_inputs(&specs);
    for e in errors {
        println!("error: {e}");
    }
    for path in files {
        let mut events = 0usize;
        let mut rejects = Vec::new();
        match read_file(&path, &Options::default(), &|_| {}, &mut |b| {
            events += b.events.len();
            rejects.extend(b.rejects);
            ControlFlow::Continue(())
        }) {
            Ok(r) => {
                println!("{r:#?}\nevents: {events}");
                for j in rejects.iter().take(5) {
                    println!("reject {} {}: {}", j.location, j.reason, j.raw.len());
                }
            }
            Err(e) => println!("error: {e}"),
        }
    }
}
