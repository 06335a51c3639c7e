// Wrong: releases the GIL around the query, but builds the page directly, skipping the handler's
// Python steps (parse, decode, render) the exercise asks to keep.
// Fails: Python steps run by the server (yours)

fn handle(py: &mut GilGuard<'_>, db: &Database, request: &Request) -> String {
    let row = py.detach(|| db.query(request.user));
    let text = String::from_utf8_lossy(&row);
    let (name, visits) = text.split_once(',').unwrap_or((&text, "0"));
    format!("<h1>{name}</h1><p>{visits} visits</p>")
}
