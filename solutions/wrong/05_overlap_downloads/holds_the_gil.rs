// Wrong: one thread per URL, but each download waits with the GIL held, so they queue.
// Fails: most downloads in flight

fn download_all(gil: &Gil, server: &Server, urls: &[String]) -> usize {
    gil.run_threads(urls.len(), |i, _py| server.download(&urls[i]).len())
        .iter()
        .sum()
}
