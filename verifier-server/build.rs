//! Rebuilds the release binary when an embedded front-end (`wallet/dist`,
//! `agency/dist`, made by `scripts/build-web`) changes or first appears.
fn main() {
    webassets::rerun_if_changed("../wallet/dist");
    webassets::rerun_if_changed("../agency/dist");
}
