fn main() {
    std::process::exit(ipfailover::cli::main());
}
