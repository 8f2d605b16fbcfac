// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    cloudops_app::drawing::draw_on_cpu_without_gpu();
    cloudops_app::run()
}
