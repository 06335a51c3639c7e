// Wrong: keeps the atomic but still borrows mutably (`&mut self`): a call that meets another
// thread's borrow raises Already borrowed, even beside a plain read.
// Fails: calls that raised Already borrowed | increment works beside a shared borrow

fn increment(counter: &PyClassCell<Counter>) -> Result<(), AlreadyBorrowed> {
    counter
        .borrow_mut()?
        .count
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}
