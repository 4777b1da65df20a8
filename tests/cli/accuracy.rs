//! Accuracy on a realistic corpus generated at run time: fake keys of every provider in
//! the file formats people keep keys in, and hard negatives (placeholders, hashes, ids,
//! lockfile integrity strings, images, env-var references). Measures recall and precision
//! of a real `keywarden scan` over it and holds them to the targets (≥ 99 %, ≥ 98 %).

use crate::support::keys::fake;
use crate::support::{jsonl, stderr, Sandbox};
use std::collections::{HashMap, HashSet};

/// (provider label, variable name people use, key template)
const KEY_KINDS: &[(&str, &str, &str)] = &[
    (
        "openai-project",
        "OPENAI_API_KEY",
        "sk-proj-{alnum_:74}T3BlbkFJ{alnum_:74}",
    ),
    (
        "openai-project-58",
        "OPENAI_API_KEY",
        "sk-proj-{alnum_:58}T3BlbkFJ{alnum_:58}",
    ),
    (
        "openai-svcacct",
        "OPENAI_API_KEY",
        "sk-svcacct-{alnum_:74}T3BlbkFJ{alnum_:74}",
    ),
    (
        "openai-admin",
        "OPENAI_ADMIN_KEY",
        "sk-admin-{alnum_:58}T3BlbkFJ{alnum_:58}",
    ),
    (
        "openai-legacy",
        "OPENAI_API_KEY",
        "sk-{alnum:20}T3BlbkFJ{alnum:20}",
    ),
    ("openai-unmarked", "OPENAI_API_KEY", "sk-proj-{alnum:156}"),
    (
        "anthropic",
        "ANTHROPIC_API_KEY",
        "sk-ant-api03-{alnum_:93}AA",
    ),
    (
        "anthropic-admin",
        "ANTHROPIC_ADMIN_KEY",
        "sk-ant-admin01-{alnum_:93}AA",
    ),
    ("github-pat", "GITHUB_TOKEN", "ghp_{alnum:36}"),
    ("github-oauth", "GH_OAUTH_TOKEN", "gho_{alnum:36}"),
    ("github-app", "GH_TOKEN", "ghs_{alnum:36}"),
    (
        "github-fine",
        "GITHUB_PAT",
        "github_pat_{alnum:22}_{alnum:59}",
    ),
    ("gitlab", "GITLAB_TOKEN", "glpat-{alnum_:20}"),
    ("aws-id", "AWS_ACCESS_KEY_ID", "AKIA{upper32:16}"),
    (
        "aws-secret",
        "AWS_SECRET_ACCESS_KEY",
        "{alnum:12}/{alnum:13}+{alnum:13}",
    ),
    ("stripe", "STRIPE_SECRET_KEY", "sk_live_{alnum:24}"),
    (
        "stripe-restricted",
        "STRIPE_RESTRICTED_KEY",
        "rk_live_{alnum:99}",
    ),
    (
        "slack-bot",
        "SLACK_BOT_TOKEN",
        "xoxb-{digits:12}-{digits:13}-{alnum:24}",
    ),
    (
        "slack-user",
        "SLACK_USER_TOKEN",
        "xoxp-{digits:12}-{digits:12}-{digits:13}-{hex:32}",
    ),
    (
        "slack-webhook",
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T{upper32:10}/B{upper32:10}/{alnum:24}",
    ),
    ("google", "GOOGLE_API_KEY", "AIza{alnum_:35}"),
    ("huggingface", "HF_TOKEN", "hf_{letters:34}"),
    ("generic-password", "DB_PASSWORD", "{alnum:9}4{alnum:10}"),
    ("generic-secret", "JWT_SECRET", "{alnum:30}7{hex:10}"),
    ("generic-api-key", "WEATHER_API_KEY", "{hex:31}c"),
    (
        "slack-bot-2016",
        "SLACK_TOKEN",
        "xoxb-{digits:11}-{alnum:24}",
    ),
    ("openai-legacy-shape", "OPENAI_KEY", "sk-{alnum:48}"),
];

/// A file that holds a key: (file name, content). `{V}` is the variable, `{K}` the key.
const CONTEXTS: &[(&str, &str)] = &[
    (".env", "# local settings\n{V}={K}\nDEBUG=true\n"),
    (".env.production", "export {V}=\"{K}\"\nexport PORT=8080\n"),
    ("config/.env.local", "APP_NAME=demo\n{V}='{K}' # rotated 2026-01\n"),
    ("crlf.env", "A=1\r\n{V}={K}\r\nB=2\r\n"),
    ("app/settings.py", "import os\n\nDEBUG = False\n{V} = \"{K}\"\n"),
    ("app/client.py", "from x import Client\n\nclient = Client(\n    {V}='{K}',\n    timeout=30,\n)\n"),
    ("src/config.ts", "export const config = {\n  {V}: \"{K}\",\n  region: 'eu',\n};\n"),
    ("src/api.js", "const headers = { 'X-Api-Key': `{K}` };\nfetch(url, { headers });\n"),
    ("k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\nstringData:\n  {V}: {K}\n"),
    ("docker-compose.yml", "services:\n  web:\n    image: app:1\n    environment:\n      - {V}={K}\n"),
    (".github/workflows/ci.yml", "jobs:\n  test:\n    runs-on: ubuntu-latest\n    env:\n      {V}: \"{K}\"\n"),
    ("config.json", "{\n  \"service\": {\n    \"{V}\": \"{K}\",\n    \"retries\": 3\n  }\n}\n"),
    ("notebook.ipynb", "{\"cells\": [{\"cell_type\": \"code\", \"source\": [\"import os\\n\", \"os.environ[\\\"{V}\\\"] = \\\"{K}\\\"\\n\"]}]}\n"),
    ("Dockerfile", "FROM python:3.12\nENV {V}={K}\nCMD [\"python\", \"app.py\"]\n"),
    ("scripts/deploy.sh", "#!/bin/sh\nset -e\nexport {V}={K}\n./run\n"),
    ("docs/setup.md", "# Setup\n\n```bash\nexport {V}={K}\n```\n"),
    ("pyproject.toml", "[tool.app]\n{V} = \"{K}\"\n"),
    ("main.tf", "provider \"x\" {\n  {V} = \"{K}\"\n}\n"),
    ("app/defaults.py", "import os\n\nsettings = {\n    \"key\": os.environ.get(\"{V}\", \"{K}\"),\n}\n"),
    ("src/env.ts", "export const settings = {\n  key: process.env.{V} ?? '{K}',\n  debug: false,\n};\n"),
    ("docker/entrypoint.sh", "#!/bin/sh\nexec /app/server --key \"${{V}:-{K}}\" \"$@\"\n"),
    ("app/signing.py", "import hmac\n\n{V} = b'{K}'\nmac = hmac.new({V}, msg, 'sha256')\n"),
    ("src/consts.rs", "/// Used by the integration tests.\npub const {V}: &str = r\"{K}\";\n"),
    ("android/app/build.gradle", "android {\n    defaultConfig {\n        buildConfigField \"String\", \"{V}\", \"\\\"{K}\\\"\"\n    }\n}\n"),
    ("dist/app.min.js", "!function(){var a=1,b=2;{MINIFIED}window.cfg={{V}:\"{K}\"};{MINIFIED}}();\n"),
];

/// Hard negatives: lines that look like keys or sit next to secret-looking names, but are
/// not secrets. Templates are expanded with fresh random characters for every file.
const NEGATIVE_LINES: &[&str] = &[
    "OPENAI_API_KEY=sk-...",
    "OPENAI_API_KEY=sk-your-key-here",
    "OPENAI_API_KEY=sk-proj-REPLACE_ME",
    "OPENAI_API_KEY=YOUR_OPENAI_API_KEY",
    "api_key: <api-key>",
    "OPENAI_API_KEY=${OPENAI_API_KEY}",
    "api_key = os.environ[\"OPENAI_API_KEY\"]",
    "const key = process.env.OPENAI_API_KEY;",
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "GITHUB_TOKEN=ghp_{lit:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}",
    "See the docs: sk-abc...xyz is a truncated example.",
    "AWS_ACCESS_KEY_ID=AKIA{lit:IOSFODNN7EXAMPLE}",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "password: xxxxxxxxxxxx",
    "commit {hex:40}",
    "    \"sha\": \"{hex:40}\",",
    "GIT_SHA={hex:40}",
    "request_id = \"{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}\"",
    "  \"id\": \"{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}\",",
    "      \"integrity\": \"sha512-{b64:86}==\",",
    "  integrity sha1-{b64:27}=",
    "checksum = \"{hex:64}\"",
    "golang.org/x/text v0.3.7 h1:{b64:43}=",
    "background: url(data:image/png;base64,{b64:600});",
    "  --token-color: #1a2b3c;",
    "  color: #{hex:6};",
    "pip install sk-learn scikit-learn",
    "from sklearn.model_selection import train_test_split",
    "image: registry.example.com/app@sha256:{hex:64}",
    "<script src=\"/static/app.{hex:20}.js\"></script>",
    "token_type = \"Bearer\"",
    "TOKEN_URL=https://oauth2.googleapis.com/token",
    "max_tokens = 4096",
    "password_min_length = 12",
    "tokenizer = AutoTokenizer.from_pretrained(\"bert-base-uncased\")",
    "api_key_header = \"X-API-Key\"",
    "SECRET_NAME=prod/db/password",
    "csrf_token = request.cookies.get(\"csrftoken\")",
    "password_hash = bcrypt.hashpw(password, salt)",
    "def test_secret_rotation_handles_v2_keys():",
    "pub const PrivateKeyMask: X509CertificateTemplatePrivateKeyFlag = 12288i32;",
    "    pub credentials: MI_UserCredentials_0,",
    "  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>",
    "export const apiKey = getApiKeyFromVault(region2);",
    "PASSWORD_RESET_URL=/account/password/reset/v2",
    "auth_token = token_store.get(user_id2)",
    "STRIPE_SECRET_KEY=sk_test_{alnum:24}",
    "client_secret: {{ .Values.oauth.clientSecret }}",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "https://example.com/search?q=api+key+rotation&page=2",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64:43} user@host",
    "cache_key = \"{hex:32}\"",
    "session_id={hex:32}",
    "==4242==DEDUP_TOKEN: __interceptor_strlen--parse_header2--main--libc_start_main",
    "AWS_ACCESS_KEY_ID=AKIA{lit:DEADBEEFDEADBEEF}",
    "SLACK_BOT_TOKEN=xoxb-{lit:000000000000}-{lit:xxxxxxxxxxxxxxxxxxxxxxxx}",
    "API_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "password = os.getenv(\"DB_PASSWORD\", \"\")",
    "exec server --password \"${DB_PASSWORD:-}\"",
    "task-{lower:20}-{lower:27}",
];

struct Corpus {
    sandbox: Sandbox,
    /// (path, secret) of every planted key.
    expected: HashSet<(String, String)>,
    kinds: HashMap<String, &'static str>,
}

fn build_corpus() -> Corpus {
    let sandbox = Sandbox::empty();
    let mut expected = HashSet::new();
    let mut kinds = HashMap::new();
    for (k, (kind, var, template)) in KEY_KINDS.iter().enumerate() {
        for (c, (name, context)) in CONTEXTS.iter().enumerate() {
            let key = fake(template);
            let minified: String = (0..40)
                .map(|i| format!("var v{i}=\"{}\";", fake("{lower:6}")))
                .collect();
            let content = context
                .replace("{MINIFIED}", &minified)
                .replace("{V}", var)
                .replace("{K}", &key);
            let path = format!("case{k:02}-{c:02}/{name}");
            sandbox.write(&path, content);
            kinds.insert(key.clone(), *kind);
            expected.insert((path, key));
        }
    }
    // PEM private keys: on their own, JSON-escaped, in a YAML block scalar.
    for i in 0..10 {
        let body: Vec<String> = (0..12).map(|_| fake("{b64:64}")).collect();
        let pem = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}==\n-----END RSA PRIVATE KEY-----",
            body.join("\n"),
            fake("{b64:30}")
        );
        sandbox.write(&format!("pem{i}/id_rsa"), format!("{pem}\n"));
        expected.insert((format!("pem{i}/id_rsa"), pem.clone()));
        let escaped = pem.replace('\n', "\\n");
        sandbox.write(
            &format!("pem{i}/service-account.json"),
            format!(
                "{{\n  \"type\": \"service_account\",\n  \"private_key\": \"{escaped}\\n\"\n}}\n"
            ),
        );
        expected.insert((format!("pem{i}/service-account.json"), escaped));
        // One quoted literal per line, joined with `+` (Java) or side by side (Python).
        let lines: Vec<&str> = pem.lines().collect();
        let joined = lines.join("\" +\n    \"");
        sandbox.write(
            &format!("pem{i}/Keys.java"),
            format!("class Keys {{\n  static final String PEM = \"{joined}\";\n}}\n"),
        );
        expected.insert((format!("pem{i}/Keys.java"), joined));
        let adjacent = lines.join("\\n\"\n    \"");
        sandbox.write(
            &format!("pem{i}/keys.py"),
            format!("PEM = (\n    \"{adjacent}\\n\"\n)\n"),
        );
        expected.insert((format!("pem{i}/keys.py"), adjacent));
    }
    for i in 0..40 {
        let mut lines: Vec<String> = Vec::new();
        for line in NEGATIVE_LINES {
            lines.push(fake(line));
        }
        for (j, ext) in ["env", "py", "yaml", "json", "md", "ts", "toml", "lock"]
            .iter()
            .enumerate()
        {
            if i % 8 == j {
                sandbox.write(&format!("negatives/n{i}.{ext}"), lines.join("\n"));
            }
        }
    }
    Corpus {
        sandbox,
        expected,
        kinds,
    }
}

#[test]
fn recall_and_precision_meet_the_targets() {
    let corpus = build_corpus();
    let out = corpus
        .sandbox
        .keywarden()
        .args(["scan", "--no-ignore", "--format", "jsonl", "--show-secrets"])
        .output()
        .expect("run keywarden");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found: Vec<(String, String, String)> = jsonl(&out.stdout)
        .iter()
        .map(|row| {
            (
                row["path"].as_str().unwrap_or("").to_string(),
                row["secret"].as_str().unwrap_or("").to_string(),
                row["rule_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let found_set: HashSet<(String, String)> = found
        .iter()
        .map(|(p, s, _)| (p.clone(), s.clone()))
        .collect();
    let true_positives = corpus.expected.intersection(&found_set).count();
    let false_positives: Vec<_> = found
        .iter()
        .filter(|(p, s, _)| !corpus.expected.contains(&(p.clone(), s.clone())))
        .collect();
    let missed: Vec<_> = corpus.expected.difference(&found_set).collect();
    let recall = true_positives as f64 / corpus.expected.len() as f64;
    let precision = true_positives as f64 / found.len().max(1) as f64;
    eprintln!(
        "accuracy: {} planted, {} found, {} true positives, {} false positives, {} missed: recall {:.2}%, precision {:.2}%",
        corpus.expected.len(),
        found.len(),
        true_positives,
        false_positives.len(),
        missed.len(),
        recall * 100.0,
        precision * 100.0
    );
    let describe_missed: Vec<String> = missed
        .iter()
        .map(|(path, secret)| {
            format!(
                "{path} ({})",
                corpus.kinds.get(secret).copied().unwrap_or("pem")
            )
        })
        .collect();
    let describe_fp: Vec<String> = false_positives
        .iter()
        .map(|(path, secret, rule)| format!("{path}: {rule} {}", &secret[..secret.len().min(24)]))
        .collect();
    assert!(
        recall >= 0.99,
        "recall {recall:.4}; missed: {describe_missed:#?}"
    );
    assert!(
        precision >= 0.98,
        "precision {precision:.4}; false positives: {describe_fp:#?}"
    );
}
