//! Rebuilds the release binary when the embedded scanner page
//! (`scanner/dist`, made by `scripts/build-web`) changes or first appears.
fn main() {
    webassets::rerun_if_changed("../scanner/dist");
}
