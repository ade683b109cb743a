#![allow(clippy::unwrap_used)]
//! SMTP replies that refuse the login, against a scripted SMTP stand-in on 127.0.0.1.
mod common;

use common::{alert_msg, channel};
use privtrail_alerts::build;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// An SMTP server that offers AUTH and answers it with `auth_reply`; every other command gets
/// the usual positive reply. Returns its port and the commands it saw.
async fn smtp_stand_in(
    auth_reply: &'static str,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 stand-in ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_uppercase();
                    log.lock().unwrap().push(verb.clone());
                    let reply = match verb.as_str() {
                        "EHLO" => "250-stand-in\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                        "AUTH" => auth_reply,
                        "QUIT" => "221 bye\r\n",
                        "DATA" => {
                            in_data = true;
                            "354 end with .\r\n"
                        }
                        _ => "250 ok\r\n",
                    };
                    if w.write_all(reply.as_bytes()).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn email(port: u16) -> Box<dyn privtrail_alerts::Notifier> {
    build(&channel(&format!(
        "[[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         security = \"none\"\nusername = \"privtrail\"\npassword = \"expired\"\n\
         from = \"privtrail@example.com\"\nto = [\"soc@example.com\"]\ntimeout = \"5s\"\n"
    )))
    .unwrap()
}

/// `535 Authentication credentials invalid` is the channel's authentication failure: retried
/// (the outbox keeps the mail and raises `delivery-failure`), not a permanent refusal of the mail.
#[tokio::test]
async fn smtp_535_is_a_retriable_authentication_failure_of_the_channel() {
    let (port, seen) = smtp_stand_in("535 5.7.8 Authentication credentials invalid\r\n").await;
    let e = email(port).send(&[alert_msg(1)]).await.unwrap_err();
    assert!(e.retriable && e.auth, "{e:?}");
    assert_eq!((e.accepted, e.rejected), (0, None));
    assert!(
        e.message.contains("535") || e.message.contains("credentials"),
        "{}",
        e.message
    );
    assert!(
        !e.message.contains("expired"),
        "the password is not in the error"
    );
    let verbs = seen.lock().unwrap().clone();
    assert!(verbs.contains(&"AUTH".to_owned()), "{verbs:?}");
    assert!(!verbs.contains(&"DATA".to_owned()), "{verbs:?}");
}

/// After a successful login the mail goes through (the stand-in takes it).
#[tokio::test]
async fn smtp_login_accepted_delivers() {
    let (port, seen) = smtp_stand_in("235 2.7.0 Authentication successful\r\n").await;
    email(port).send(&[alert_msg(1)]).await.unwrap();
    let verbs = seen.lock().unwrap().clone();
    assert!(verbs.contains(&"DATA".to_owned()), "{verbs:?}");
}
