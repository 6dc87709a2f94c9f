//! The etcd endpoints of a `etcd`/`etcd3` section, as URLs: `hosts` (list or comma string), else
//! `host`, else `url`, else `proxy`. `protocol` (or a `cacert`) selects https.

use ferroni_config::Secret;
use ferroni_config::dcs_sections::Etcd;

/// How a client reaches etcd (either API): endpoint URLs, credentials and TLS files.
#[derive(Debug, Clone, Default)]
pub struct EtcdOptions {
    pub endpoints: Vec<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

/// Endpoint URLs, or the reason there are none.
pub fn endpoint_urls(etcd: &Etcd) -> Result<Vec<String>, String> {
    let scheme = match etcd.protocol.as_deref() {
        Some(p) => p.to_string(),
        None if etcd.cacert.is_some() || etcd.cert.is_some() => "https".into(),
        None => "http".into(),
    };
    let with_scheme = |hp: &str| {
        if hp.contains("://") {
            hp.to_string()
        } else {
            format!("{scheme}://{hp}")
        }
    };
    if let Some(url) = etcd.url.as_deref().filter(|u| !u.is_empty())
        && etcd.hosts.is_none()
        && etcd.host.is_none()
    {
        return Ok(vec![url.trim_end_matches('/').to_string()]);
    }
    if let Some(proxy) = etcd.proxy.as_deref().filter(|p| !p.is_empty())
        && etcd.hosts.is_none()
        && etcd.host.is_none()
    {
        return Ok(vec![proxy.trim_end_matches('/').to_string()]);
    }
    if etcd.srv.is_some() && etcd.hosts.is_none() && etcd.host.is_none() {
        return Err("etcd srv discovery is not supported yet: list the endpoints in hosts".into());
    }
    let urls: Vec<String> = etcd.endpoints().iter().map(|hp| with_scheme(hp)).collect();
    if urls.is_empty() {
        Err("no etcd endpoint is configured".into())
    } else {
        Ok(urls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroni_config::flex::HostList;

    #[test]
    fn every_form_gives_urls() {
        let hosts = Etcd {
            hosts: Some(HostList(vec!["a:2379".into(), "b:2379".into()])),
            ..Etcd::default()
        };
        assert_eq!(
            endpoint_urls(&hosts).unwrap(),
            ["http://a:2379", "http://b:2379"]
        );
        let host = Etcd {
            host: Some("10.0.0.1".into()),
            port: Some(2389),
            ..Etcd::default()
        };
        assert_eq!(endpoint_urls(&host).unwrap(), ["http://10.0.0.1:2389"]);
        let url = Etcd {
            url: Some("https://etcd.example:2379/".into()),
            ..Etcd::default()
        };
        assert_eq!(endpoint_urls(&url).unwrap(), ["https://etcd.example:2379"]);
        let proxy = Etcd {
            proxy: Some("http://proxy:2379".into()),
            ..Etcd::default()
        };
        assert_eq!(endpoint_urls(&proxy).unwrap(), ["http://proxy:2379"]);
        let tls = Etcd {
            host: Some("e:2379".into()),
            cacert: Some("/ca.pem".into()),
            ..Etcd::default()
        };
        assert_eq!(endpoint_urls(&tls).unwrap(), ["https://e:2379"]);
        let srv = Etcd {
            srv: Some("example.com".into()),
            ..Etcd::default()
        };
        assert!(endpoint_urls(&srv).is_err());
    }
}
