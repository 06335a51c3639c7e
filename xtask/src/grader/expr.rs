//! The little expression language of the manifest's checks.
//!
//! `threads * iterations`, `0.6 * solution`, `max(1, cores - 1)`, `out("one thread") / 2`:
//! numbers, parameter names, `solution` (the solution's value for the same label), `cores`,
//! `out("label")` (the learner's value of another label in the same run), `+ - * /`, unary
//! minus, parentheses, `min(a, b)` and `max(a, b)`.

use std::fmt;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal number.
    Number(f64),
    /// A parameter drawn by the grader.
    Param(String),
    /// The solution's value for the check's label.
    Solution,
    /// How many CPUs this process may use.
    Cores,
    /// The learner's value of another label.
    Out(String),
    /// `-e`
    Neg(Box<Expr>),
    /// `a op b`
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `min(a, b)`
    Min(Box<Expr>, Box<Expr>),
    /// `max(a, b)`
    Max(Box<Expr>, Box<Expr>),
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// What an expression may look up while it is evaluated.
pub trait Env {
    /// A parameter's value (`None`: no such parameter).
    fn param(&self, name: &str) -> Option<f64>;
    /// The solution's value for the check's label.
    fn solution(&self) -> Result<f64, String>;
    /// The learner's value of `label`.
    fn out(&self, label: &str) -> Result<f64, String>;
    /// Available parallelism.
    fn cores(&self) -> f64;
}

impl Expr {
    /// Parse `source`; the error says what is wrong and where, in one line.
    pub fn parse(source: &str) -> Result<Expr, String> {
        let tokens = tokenize(source)?;
        let mut parser = Parser { tokens, next: 0 };
        let expr = parser.sum()?;
        match parser.peek() {
            None => Ok(expr),
            Some(token) => Err(format!("unexpected {token} in `{source}`")),
        }
    }

    /// Evaluate; errors are sentences for the learner (a missing line, a division by zero).
    pub fn eval(&self, env: &dyn Env) -> Result<f64, String> {
        let value = match self {
            Expr::Number(n) => *n,
            Expr::Param(name) => env
                .param(name)
                .ok_or_else(|| format!("unknown parameter `{name}`"))?,
            Expr::Solution => env.solution()?,
            Expr::Cores => env.cores(),
            Expr::Out(label) => env.out(label)?,
            Expr::Neg(e) => -e.eval(env)?,
            Expr::Binary(op, a, b) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div if b == 0.0 => return Err("division by zero".into()),
                    Op::Div => a / b,
                }
            }
            Expr::Min(a, b) => a.eval(env)?.min(b.eval(env)?),
            Expr::Max(a, b) => a.eval(env)?.max(b.eval(env)?),
        };
        Ok(value)
    }

    /// Every sub-expression, this one first.
    fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        match self {
            Expr::Neg(e) => e.walk(visit),
            Expr::Binary(_, a, b) | Expr::Min(a, b) | Expr::Max(a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            _ => {}
        }
    }

    /// Does it mention `solution`?
    pub fn uses_solution(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| found |= matches!(e, Expr::Solution));
        found
    }

    /// The parameter names it mentions.
    pub fn params(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Param(name) = e {
                names.push(name.clone());
            }
        });
        names
    }

    /// Is it exactly `solution` (the check that may compare text)?
    pub fn is_solution(&self) -> bool {
        matches!(self, Expr::Solution)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Text(String),
    Sym(char),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Number(n) => write!(f, "number {n}"),
            Token::Ident(name) => write!(f, "name `{name}`"),
            Token::Text(text) => write!(f, "string {text:?}"),
            Token::Sym(c) => write!(f, "`{c}`"),
        }
    }
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() || c == '.' {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                let exponent_sign =
                    (c == '-' || c == '+') && source[..i].ends_with(['e', 'E']) && end > start;
                if c.is_ascii_digit()
                    || c == '.'
                    || c == '_'
                    || c == 'e'
                    || c == 'E'
                    || exponent_sign
                {
                    end = i + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let text = source[start..end].replace('_', "");
            let n = text
                .parse()
                .map_err(|_| format!("`{}` is not a number", &source[start..end]))?;
            tokens.push(Token::Number(n));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    end = i + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Ident(source[start..end].to_owned()));
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some((_, q)) if q == c => break,
                    Some((_, other)) => text.push(other),
                    None => return Err(format!("unclosed string in `{source}`")),
                }
            }
            tokens.push(Token::Text(text));
        } else if "+-*/(),".contains(c) {
            chars.next();
            tokens.push(Token::Sym(c));
        } else {
            return Err(format!("unexpected `{c}` in `{source}`"));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn take(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn eat(&mut self, sym: char) -> bool {
        if self.peek() == Some(&Token::Sym(sym)) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: char) -> Result<(), String> {
        match self.take() {
            Some(Token::Sym(c)) if c == sym => Ok(()),
            Some(other) => Err(format!("expected `{sym}`, found {other}")),
            None => Err(format!("expected `{sym}`, found the end")),
        }
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        loop {
            let op = if self.eat('+') {
                Op::Add
            } else if self.eat('-') {
                Op::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
    }

    /// product := unary (('*' | '/') unary)*
    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat('*') {
                Op::Mul
            } else if self.eat('/') {
                Op::Div
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    /// unary := '-' unary | atom
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            Ok(Expr::Neg(Box::new(self.unary()?)))
        } else {
            self.atom()
        }
    }

    /// atom := number | name | name '(' args ')' | '(' sum ')'
    fn atom(&mut self) -> Result<Expr, String> {
        match self.take() {
            Some(Token::Number(n)) => Ok(Expr::Number(n)),
            Some(Token::Sym('(')) => {
                let inner = self.sum()?;
                self.expect(')')?;
                Ok(inner)
            }
            Some(Token::Ident(name)) if self.peek() == Some(&Token::Sym('(')) => {
                self.next += 1;
                self.call(&name)
            }
            Some(Token::Ident(name)) => Ok(match name.as_str() {
                "solution" => Expr::Solution,
                "cores" => Expr::Cores,
                "min" | "max" | "out" => {
                    return Err(format!("`{name}` needs arguments: {name}(…)"));
                }
                _ => Expr::Param(name),
            }),
            Some(other) => Err(format!("unexpected {other}")),
            None => Err("the expression ends too early".into()),
        }
    }

    /// The arguments of `name(`, up to and including the `)`.
    fn call(&mut self, name: &str) -> Result<Expr, String> {
        match name {
            "out" => {
                let label = match self.take() {
                    Some(Token::Text(label)) => label,
                    _ => return Err("out(…) takes a label in quotes: out(\"label\")".into()),
                };
                self.expect(')')?;
                Ok(Expr::Out(label))
            }
            "min" | "max" => {
                let a = self.sum()?;
                self.expect(',')?;
                let b = self.sum()?;
                self.expect(')')?;
                let (a, b) = (Box::new(a), Box::new(b));
                Ok(if name == "min" {
                    Expr::Min(a, b)
                } else {
                    Expr::Max(a, b)
                })
            }
            _ => Err(format!(
                "unknown function `{name}` (there are min, max and out)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct TestEnv {
        params: HashMap<&'static str, f64>,
        solution: Option<f64>,
        outs: HashMap<&'static str, f64>,
    }

    impl Env for TestEnv {
        fn param(&self, name: &str) -> Option<f64> {
            self.params.get(name).copied()
        }
        fn solution(&self) -> Result<f64, String> {
            self.solution.ok_or_else(|| "no solution".to_owned())
        }
        fn out(&self, label: &str) -> Result<f64, String> {
            self.outs
                .get(label)
                .copied()
                .ok_or_else(|| format!("no line `{label}`"))
        }
        fn cores(&self) -> f64 {
            2.0
        }
    }

    fn env() -> TestEnv {
        TestEnv {
            params: HashMap::from([("threads", 10.0), ("iterations", 100_000.0)]),
            solution: Some(3.0),
            outs: HashMap::from([("one thread", 0.5)]),
        }
    }

    fn eval(source: &str) -> Result<f64, String> {
        Expr::parse(source)?.eval(&env())
    }

    #[test]
    fn arithmetic_follows_the_usual_precedence() {
        assert_eq!(eval("1 + 2 * 3"), Ok(7.0));
        assert_eq!(eval("(1 + 2) * 3"), Ok(9.0));
        assert_eq!(eval("10 - 4 - 3"), Ok(3.0), "left associative");
        assert_eq!(eval("12 / 3 / 2"), Ok(2.0));
        assert_eq!(eval("-2 * -3"), Ok(6.0));
        assert_eq!(eval("1_000 + 0.5"), Ok(1000.5));
        assert_eq!(eval("2.5e3"), Ok(2500.0));
    }

    #[test]
    fn names_look_up_params_solution_cores_and_outputs() {
        assert_eq!(eval("threads * iterations"), Ok(1_000_000.0));
        assert_eq!(eval("0.5 * solution"), Ok(1.5));
        assert_eq!(eval("0.7 * cores"), Ok(1.4));
        assert_eq!(eval("out(\"one thread\") * 2"), Ok(1.0));
        assert_eq!(eval("out('one thread')"), Ok(0.5));
        assert_eq!(eval("min(threads, 4)"), Ok(4.0));
        assert_eq!(eval("max(1, cores - 1)"), Ok(1.0));
    }

    #[test]
    fn evaluation_errors_are_sentences() {
        assert_eq!(eval("1 / (threads - 10)"), Err("division by zero".into()));
        assert_eq!(eval("out(\"missing\")"), Err("no line `missing`".into()));
        assert!(eval("nope + 1").unwrap_err().contains("unknown parameter"));
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in [
            "", "1 +", "(1", "1 2", "min(1)", "out(x)", "foo(1)", "3 $ 4", "out(\"a", "max",
        ] {
            assert!(Expr::parse(bad).is_err(), "`{bad}` parsed");
        }
    }

    #[test]
    fn expressions_know_what_they_mention() {
        let e = Expr::parse("max(threads, 2) * solution").unwrap();
        assert!(e.uses_solution());
        assert_eq!(e.params(), vec!["threads".to_owned()]);
        assert!(Expr::parse(" solution ").unwrap().is_solution());
        assert!(!Expr::parse("1 * solution").unwrap().is_solution());
        assert!(Expr::parse("cores").unwrap().params().is_empty());
    }
}
