//! `cloudops demo`: the whole slice on a machine with no AWS account.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use cloudops_host::demo::{self, Ec2Estate, Emulator};
use cloudops_host::scan;

use super::output;
use super::scan::load_plugin;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Regions to seed and scan.
    #[arg(long = "region", default_values_t = ["us-west-2".to_owned(), "us-east-1".to_owned()])]
    regions: Vec<String>,
    /// Print the scan as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the emulator running after the scan (until Ctrl-C) and print how to use it.
    #[arg(long)]
    keep: bool,
}

pub async fn run(args: DemoArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    // Fail before starting anything if the plugin is missing.
    let plugin = load_plugin(data_dir, "ec2")?;
    eprintln!("starting the local AWS emulator (moto) ...");
    let emulator = Emulator::start().await?;
    let client = emulator.demo_client();
    for region in &args.regions {
        eprintln!("seeding EC2 in {region} ...");
        demo::seed_ec2(&client, region, &Ec2Estate::demo())
            .await
            .with_context(|| format!("seeding the demo estate in {region}"))?;
    }
    let account_id = client.account_id(&args.regions[0]).await?;
    eprintln!("scanning through the `ec2` WebAssembly plugin ...");
    let scans = scan::scan_regions(&plugin, &client, &account_id, &args.regions, &[], 4).await;
    let code = output::print_scan(&plugin, &account_id, &scans, None, args.json);
    if args.keep {
        eprintln!(
            "\nThe emulator keeps running at {url}. In another shell:\n  \
             AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY=x \
             cloudops scan --service ec2 --region {region}\nPress Ctrl-C to stop it.",
            url = emulator.url(),
            key = demo::DEMO_ACCESS_KEY,
            region = args.regions[0],
        );
        tokio::signal::ctrl_c().await.ok();
    }
    drop(emulator);
    Ok(code)
}
