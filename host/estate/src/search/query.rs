//! Reading a search query: which words are filters, which are hints, which are text.
//!
//! "env=prod AND app=main", "in production account", "in us-west-2" and "rds" narrow the
//! search (hard filters); "database", "server" and "production" only lean it (soft hints, a
//! score bonus), because people use them loosely; everything else is text matched by meaning
//! and by name.

pub use cloudops_core::AccountName;

/// A query taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// What is left to match by meaning and by name (may be empty).
    pub text: String,
    /// Tag conditions: each is a key and the values (with synonyms) that satisfy it.
    pub tags: Vec<(String, Vec<String>)>,
    /// Account ids the results must be in.
    pub accounts: Vec<String>,
    /// Regions the results must be in.
    pub regions: Vec<String>,
    /// Services (plugin names) the results must come from.
    pub services: Vec<String>,
    /// Resource types the results must have.
    pub types: Vec<String>,
    /// Resource types the words suggest (a bonus, not a filter).
    pub type_hints: Vec<String>,
    /// Environments the words suggest, as canonical names (`production`, `staging`,
    /// `development`): a bonus for resources tagged or accounted so.
    pub env_hints: Vec<String>,
}

impl ParsedQuery {
    /// Whether the query narrows the estate at all.
    pub fn has_filters(&self) -> bool {
        !(self.tags.is_empty()
            && self.accounts.is_empty()
            && self.regions.is_empty()
            && self.services.is_empty()
            && self.types.is_empty())
    }
}

/// Canonical environment names and the words that mean them.
const ENVIRONMENTS: &[(&str, &[&str])] = &[
    ("production", &["production", "prod", "prd", "live"]),
    ("staging", &["staging", "stage", "stg"]),
    ("development", &["development", "dev", "devel"]),
];

/// Service names accepted as filters.
const SERVICES: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("rds", "rds"),
    ("s3", "s3"),
    ("lambda", "lambda"),
    ("vpc", "vpc"),
    ("elb", "elb"),
    ("elbv2", "elb"),
];

/// Words (singular) that name a resource type precisely: a filter.
const TYPE_WORDS: &[(&str, &[&str])] = &[
    ("bucket", &["s3_bucket"]),
    ("volume", &["ec2_volume"]),
    ("ebs", &["ec2_volume"]),
    ("snapshot", &["ec2_snapshot", "rds_snapshot"]),
    ("function", &["lambda_function"]),
    ("layer", &["lambda_layer"]),
    ("alias", &["lambda_alias"]),
    ("subnet", &["vpc_subnet"]),
    ("cluster", &["rds_cluster"]),
    ("alb", &["elb_load_balancer"]),
    ("nlb", &["elb_load_balancer"]),
];

/// Two-word type names: a filter.
const TYPE_PHRASES: &[(&str, &str, &[&str])] = &[
    ("security", "group", &["vpc_security_group"]),
    ("load", "balancer", &["elb_load_balancer"]),
    ("db", "instance", &["rds_instance"]),
    ("rds", "instance", &["rds_instance"]),
    ("ec2", "instance", &["ec2_instance"]),
    ("aurora", "cluster", &["rds_cluster"]),
];

/// Words that suggest a type without pinning it: a bonus.
const TYPE_HINTS: &[(&str, &[&str])] = &[
    ("database", &["rds_instance", "rds_cluster"]),
    ("db", &["rds_instance", "rds_cluster"]),
    ("postgres", &["rds_instance", "rds_cluster"]),
    ("postgresql", &["rds_instance", "rds_cluster"]),
    ("mysql", &["rds_instance", "rds_cluster"]),
    ("aurora", &["rds_cluster", "rds_instance"]),
    ("server", &["ec2_instance"]),
    ("vm", &["ec2_instance"]),
    ("machine", &["ec2_instance"]),
    ("host", &["ec2_instance"]),
    ("instance", &["ec2_instance", "rds_instance"]),
    ("storage", &["s3_bucket", "ec2_volume"]),
    ("network", &["vpc", "vpc_subnet"]),
    ("firewall", &["vpc_security_group"]),
    ("serverless", &["lambda_function"]),
];

/// Words that carry no meaning for search.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "in",
    "on",
    "of",
    "for",
    "to",
    "my",
    "our",
    "all",
    "any",
    "and",
    "with",
    "show",
    "find",
    "list",
    "get",
    "me",
    "which",
    "what",
    "where",
    "is",
    "are",
    "that",
    "account",
    "accounts",
    "region",
    "regions",
    "resource",
    "resources",
    // What the user wants done is for the server's planner, not part of what to find.
    "stop",
    "start",
    "restart",
    "reboot",
    "terminate",
    "delete",
    "remove",
    "shutdown",
    "please",
];

/// Takes a query apart. `accounts` are the names the user may use for accounts.
pub fn parse(query: &str, accounts: &[AccountName]) -> ParsedQuery {
    let mut parsed = ParsedQuery::default();
    let tokens: Vec<String> = query
        .split_whitespace()
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, ',' | ';' | '"' | '\'' | '(' | ')' | '?' | '!'))
        })
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let mut text = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let lower = token.to_lowercase();
        let next = tokens.get(i + 1).map(|t| t.to_lowercase());
        let prev = i.checked_sub(1).map(|p| tokens[p].to_lowercase());

        if matches!(lower.as_str(), "and" | "&&" | "&") {
            i += 1;
            continue;
        }
        if let Some((key, value)) = tag_condition(token) {
            push_unique(&mut parsed.tags, (key.clone(), tag_values(&key, &value)));
            i += 1;
            continue;
        }
        if is_region(&lower) {
            push_unique(&mut parsed.regions, lower);
            i += 1;
            continue;
        }
        if lower.len() == 12 && lower.bytes().all(|b| b.is_ascii_digit()) {
            push_unique(&mut parsed.accounts, lower);
            i += 1;
            continue;
        }
        // "<name> account" or "account <name>" names an account.
        if let Some(account) = accounts
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(&lower))
        {
            let beside_account = next.as_deref().is_some_and(is_account_word)
                || prev.as_deref().is_some_and(is_account_word);
            if beside_account {
                push_unique(&mut parsed.accounts, account.id.clone());
                i += 1;
                continue;
            }
        }
        if let Some(next) = next.as_deref() {
            let (first, second) = (singular(&lower), singular(next));
            if let Some((_, _, types)) = TYPE_PHRASES
                .iter()
                .find(|(a, b, _)| *a == first && *b == second)
            {
                extend_unique(&mut parsed.types, types);
                i += 2;
                continue;
            }
        }
        if let Some((_, service)) = SERVICES.iter().find(|(word, _)| *word == lower) {
            push_unique(&mut parsed.services, (*service).to_owned());
            i += 1;
            continue;
        }
        let word = singular(&lower);
        if let Some((_, types)) = TYPE_WORDS.iter().find(|(w, _)| *w == word) {
            extend_unique(&mut parsed.types, types);
            i += 1;
            continue;
        }
        if let Some(types) = hinted_types(&lower) {
            extend_unique(&mut parsed.type_hints, types);
        }
        if let Some(env) = environment(&lower) {
            push_unique(&mut parsed.env_hints, env.to_owned());
        }
        if !STOPWORDS.contains(&lower.as_str()) {
            text.push(token.clone());
        }
        i += 1;
    }
    parsed.text = text.join(" ");
    parsed
}

/// The canonical environment a word means, if any.
pub fn environment(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    ENVIRONMENTS
        .iter()
        .find(|(_, words)| words.contains(&word.as_str()))
        .map(|(canonical, _)| *canonical)
}

/// True for words that only hint at a type or an environment ("database", "prod"): they
/// say nothing about a resource's name, so they are left out of name matching.
pub fn is_hint_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    environment(&lower).is_some() || hinted_types(&lower).is_some()
}

/// The types a (lower-case) word hints at, as written or singular ("postgres" is not a
/// plural).
fn hinted_types(word: &str) -> Option<&'static [&'static str]> {
    let singular = singular(word);
    TYPE_HINTS
        .iter()
        .find(|(w, _)| *w == word || *w == singular)
        .map(|(_, types)| *types)
}

/// `key=value` or `key:value` (not a URL or an ARN).
fn tag_condition(token: &str) -> Option<(String, String)> {
    let (key, value) = token.split_once('=').or_else(|| {
        token.split_once(':').filter(|(k, v)| {
            !k.is_empty() && !v.is_empty() && !v.contains(':') && !v.starts_with("//")
        })
    })?;
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '@'))
    };
    (ok(key) && ok(value)).then(|| (key.to_lowercase(), value.to_lowercase()))
}

/// The values that satisfy `key=value`: environment words match each other
/// (`env=prod` finds `env=production`).
fn tag_values(key: &str, value: &str) -> Vec<String> {
    let is_env_key = matches!(key, "env" | "environment" | "stage" | "tier");
    match environment(value).filter(|_| is_env_key) {
        Some(env) => ENVIRONMENTS
            .iter()
            .find(|(canonical, _)| *canonical == env)
            .map(|(_, words)| words.iter().map(|w| (*w).to_owned()).collect())
            .unwrap_or_default(),
        None => vec![value.to_owned()],
    }
}

fn is_account_word(word: &str) -> bool {
    matches!(word, "account" | "accounts")
}

/// `us-west-2`, `eu-central-1`, `us-gov-west-1`, `ap-southeast-2`.
fn is_region(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    let (first, last) = match (parts.first(), parts.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => return false,
    };
    (3..=4).contains(&parts.len())
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

fn singular(word: &str) -> &str {
    word.strip_suffix("es")
        .filter(|stem| {
            stem.ends_with("ss")
                || stem.ends_with("ch")
                || stem.ends_with("sh")
                || stem.ends_with("alias")
        })
        .or_else(|| {
            word.strip_suffix('s')
                .filter(|stem| stem.len() >= 2 && !stem.ends_with('s'))
        })
        .unwrap_or(word)
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn extend_unique(list: &mut Vec<String>, items: &[&str]) {
    for item in items {
        push_unique(list, (*item).to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts() -> Vec<AccountName> {
        vec![
            AccountName {
                id: "111111111111".into(),
                name: "production".into(),
            },
            AccountName {
                id: "222222222222".into(),
                name: "staging".into(),
            },
        ]
    }

    #[test]
    fn tag_conditions_with_and_and_environment_synonyms() {
        let q = parse("env=prod AND app=main", &accounts());
        assert_eq!(q.text, "");
        assert_eq!(q.tags.len(), 2);
        assert_eq!(q.tags[0].0, "env");
        assert!(q.tags[0].1.contains(&"production".to_owned()));
        assert_eq!(q.tags[1], ("app".into(), vec!["main".into()]));
    }

    #[test]
    fn account_by_name_region_and_service() {
        let q = parse("rds in production account in us-west-2", &accounts());
        assert_eq!(q.accounts, ["111111111111"]);
        assert_eq!(q.regions, ["us-west-2"]);
        assert_eq!(q.services, ["rds"]);
        assert_eq!(q.text, "");
        assert!(q.has_filters());
    }

    #[test]
    fn loose_words_are_hints_and_stay_text() {
        let q = parse("production database", &accounts());
        assert!(!q.has_filters());
        assert_eq!(q.env_hints, ["production"]);
        assert!(q.type_hints.contains(&"rds_instance".to_owned()));
        assert_eq!(q.text, "production database");
    }

    #[test]
    fn engine_words_hint_at_databases() {
        let q = parse("stop the production postgres", &accounts());
        assert!(q.type_hints.contains(&"rds_instance".to_owned()));
        assert!(is_hint_word("postgres") && is_hint_word("databases"));
        assert_eq!(q.text, "production postgres");
    }

    #[test]
    fn names_stay_text() {
        let q = parse("pg-main1", &accounts());
        assert_eq!(q.text, "pg-main1");
        assert!(!q.has_filters());
    }

    #[test]
    fn type_words_and_phrases_filter() {
        let q = parse("security groups open to the world", &[]);
        assert_eq!(q.types, ["vpc_security_group"]);
        assert_eq!(q.text, "open world");
        assert_eq!(parse("buckets", &[]).types, ["s3_bucket"]);
        assert_eq!(parse("load balancers", &[]).types, ["elb_load_balancer"]);
    }

    #[test]
    fn regions_and_account_ids() {
        assert!(
            is_region("us-west-2") && is_region("us-gov-west-1") && is_region("ap-southeast-2")
        );
        assert!(!is_region("pg-main1") && !is_region("web-server-1") && !is_region("us-west"));
        assert_eq!(
            parse("333333333333 servers", &[]).accounts,
            ["333333333333"]
        );
    }

    #[test]
    fn arns_and_urls_are_not_tags() {
        assert!(tag_condition("arn:aws:rds:us-west-2:1:db:x").is_none());
        assert!(tag_condition("https://example.com").is_none());
        assert_eq!(
            tag_condition("team:data"),
            Some(("team".into(), "data".into()))
        );
    }
}
