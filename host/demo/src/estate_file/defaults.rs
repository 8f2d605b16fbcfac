//! The defaults the estate file promises, shared by the resolver and the seeder.

/// The usual default version of each engine.
pub(crate) fn default_engine_version(engine: &str) -> &'static str {
    match engine {
        "postgres" => "16.3",
        "mysql" => "8.0.36",
        "mariadb" => "10.11.8",
        "aurora-postgresql" => "15.4",
        "aurora-mysql" => "8.0.mysql_aurora.3.05.2",
        "oracle-ee" | "oracle-se2" => "19.0.0.0.ru-2024-04.rur-2024-04.r1",
        "sqlserver-ee" | "sqlserver-se" | "sqlserver-ex" | "sqlserver-web" => "16.00.4125.3.v1",
        _ => "1.0",
    }
}

/// The default port of each engine.
pub(crate) fn engine_port(engine: &str) -> u16 {
    match engine {
        "postgres" | "aurora-postgresql" => 5432,
        "mysql" | "mariadb" | "aurora-mysql" | "aurora" => 3306,
        e if e.starts_with("oracle") => 1521,
        e if e.starts_with("sqlserver") => 1433,
        _ => 5432,
    }
}

pub(crate) const RDS_ENGINES: &[&str] = &[
    "postgres",
    "mysql",
    "mariadb",
    "oracle-ee",
    "oracle-se2",
    "sqlserver-ee",
    "sqlserver-se",
    "sqlserver-ex",
    "sqlserver-web",
    "aurora-postgresql",
    "aurora-mysql",
];

/// The usual handler of a runtime's hello-world function.
pub(crate) fn default_handler(runtime: &str) -> &'static str {
    if runtime.starts_with("python") {
        "lambda_function.lambda_handler"
    } else if runtime.starts_with("nodejs") {
        "index.handler"
    } else if runtime.starts_with("java") {
        "com.example.Handler::handleRequest"
    } else if runtime.starts_with("dotnet") {
        "Function::Function.Handler::FunctionHandler"
    } else if runtime.starts_with("ruby") {
        "lambda_function.lambda_handler"
    } else {
        "bootstrap"
    }
}

/// The image instances launch from when the file names none.
pub(crate) const DEFAULT_IMAGE: &str = "ami-0a8b4cd432b1c3063";
/// The execution role Lambda functions get when the file names none.
pub(crate) const DEFAULT_LAMBDA_ROLE: &str = "lambda-basic-execution";
