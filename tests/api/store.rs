//! The code store's behaviour: the same tests against the in-process store and Redis.

use std::time::Duration;

use qqbind::codes::keys;

use crate::helpers::*;

async fn set_get_and_take_once(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    s.set_ex("img_abc", "x7Kp", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(s.get("img_abc").await.unwrap().as_deref(), Some("x7Kp"));
    assert_eq!(s.take("img_abc").await.unwrap().as_deref(), Some("x7Kp"));
    assert_eq!(s.take("img_abc").await.unwrap(), None);
    assert_eq!(s.get("img_abc").await.unwrap(), None);
    assert_eq!(s.get("never-set").await.unwrap(), None);
}

async fn values_expire(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    s.set_ex("k", "v", Duration::from_millis(300))
        .await
        .unwrap();
    assert!(s.ttl("k").await.unwrap().unwrap() <= Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(s.get("k").await.unwrap(), None);
    assert_eq!(s.take("k").await.unwrap(), None);
    assert_eq!(s.ttl("k").await.unwrap(), None);
}

async fn take_if_equals_only_takes_the_expected_value(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    s.set_ex("sms_13800138000", "123456", Duration::from_secs(300))
        .await
        .unwrap();
    assert!(!s.take_if_equals("sms_13800138000", "654321").await.unwrap());
    assert_eq!(
        s.get("sms_13800138000").await.unwrap().as_deref(),
        Some("123456")
    );
    assert!(s.take_if_equals("sms_13800138000", "123456").await.unwrap());
    assert!(!s.take_if_equals("sms_13800138000", "123456").await.unwrap());
}

async fn counters_count_and_expire(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    for n in 1..=5 {
        assert_eq!(
            s.incr("qqbind:c", Duration::from_millis(400))
                .await
                .unwrap(),
            n
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(s.incr("qqbind:c", Duration::from_secs(1)).await.unwrap(), 1);
}

async fn an_sms_code_uses_the_meiduo_keys_and_the_60_second_flag(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    s.set_ex(
        &keys::sms_tries("13800138000"),
        "3",
        Duration::from_secs(300),
    )
    .await
    .unwrap();
    assert!(s.put_sms_code("13800138000", "123456").await.unwrap());
    // Key names exactly as a Meiduo deployment sharing the Redis expects.
    assert_eq!(
        s.get("sms_13800138000").await.unwrap().as_deref(),
        Some("123456")
    );
    assert_eq!(
        s.get("send_flag_13800138000").await.unwrap().as_deref(),
        Some("1")
    );
    assert_eq!(
        s.get("qqbind:sms_tries:13800138000").await.unwrap(),
        None,
        "tries reset"
    );
    let sms_ttl = s.ttl("sms_13800138000").await.unwrap().unwrap();
    let flag_ttl = s.ttl("send_flag_13800138000").await.unwrap().unwrap();
    assert!(sms_ttl > Duration::from_secs(295) && sms_ttl <= Duration::from_secs(300));
    assert!(flag_ttl > Duration::from_secs(55) && flag_ttl <= Duration::from_secs(60));
    // While the flag stands, nothing is replaced.
    assert!(!s.put_sms_code("13800138000", "999999").await.unwrap());
    assert_eq!(
        s.get("sms_13800138000").await.unwrap().as_deref(),
        Some("123456")
    );
}

async fn racing_takes_of_one_code_have_one_winner(kind: StoreKind) {
    let (s, _redis) = code_store(kind).await;
    for round in 0..5 {
        let key = format!("img_race{round}");
        s.set_ex(&key, "abcd", Duration::from_secs(60))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (s, key) = (s.clone(), key.clone());
            tasks.push(tokio::spawn(async move { s.take(&key).await.unwrap() }));
        }
        let mut winners = 0;
        for t in tasks {
            if t.await.unwrap().is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

crate::both_stores!(
    set_get_and_take_once,
    values_expire,
    take_if_equals_only_takes_the_expected_value,
    counters_count_and_expire,
    an_sms_code_uses_the_meiduo_keys_and_the_60_second_flag,
    racing_takes_of_one_code_have_one_winner,
);
