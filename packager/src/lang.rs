//! Track languages as BCP-47 tags in their shortest form (RFC 5646 2.2.1): an ISO 639-2
//! code from `mdhd` becomes its ISO 639-1 two-letter code where one exists.

/// (ISO 639-1, ISO 639-2/T, ISO 639-2/B where it differs)
const TABLE: &str = "aa aar|ab abk|ae ave|af afr|ak aka|am amh|an arg|ar ara|as asm|av ava|ay aym|az aze|\
ba bak|be bel|bg bul|bi bis|bm bam|bn ben|bo bod tib|br bre|bs bos|ca cat|ce che|ch cha|co cos|cr cre|\
cs ces cze|cu chu|cv chv|cy cym wel|da dan|de deu ger|dv div|dz dzo|ee ewe|el ell gre|en eng|eo epo|\
es spa|et est|eu eus baq|fa fas per|ff ful|fi fin|fj fij|fo fao|fr fra fre|fy fry|ga gle|gd gla|gl glg|\
gn grn|gu guj|gv glv|ha hau|he heb|hi hin|ho hmo|hr hrv|ht hat|hu hun|hy hye arm|hz her|ia ina|id ind|\
ie ile|ig ibo|ii iii|ik ipk|io ido|is isl ice|it ita|iu iku|ja jpn|jv jav|ka kat geo|kg kon|ki kik|\
kj kua|kk kaz|kl kal|km khm|kn kan|ko kor|kr kau|ks kas|ku kur|kv kom|kw cor|ky kir|la lat|lb ltz|\
lg lug|li lim|ln lin|lo lao|lt lit|lu lub|lv lav|mg mlg|mh mah|mi mri mao|mk mkd mac|ml mal|mn mon|\
mr mar|ms msa may|mt mlt|my mya bur|na nau|nb nob|nd nde|ne nep|ng ndo|nl nld dut|nn nno|no nor|\
nr nbl|nv nav|ny nya|oc oci|oj oji|om orm|or ori|os oss|pa pan|pi pli|pl pol|ps pus|pt por|qu que|\
rm roh|rn run|ro ron rum|ru rus|rw kin|sa san|sc srd|sd snd|se sme|sg sag|si sin|sk slk slo|sl slv|\
sm smo|sn sna|so som|sq sqi alb|sr srp|ss ssw|st sot|su sun|sv swe|sw swa|ta tam|te tel|tg tgk|th tha|\
ti tir|tk tuk|tl tgl|tn tsn|to ton|tr tur|ts tso|tt tat|tw twi|ty tah|ug uig|uk ukr|ur urd|uz uzb|\
ve ven|vi vie|vo vol|wa wln|wo wol|xh xho|yi yid|yo yor|za zha|zh zho chi|zu zul";

/// Unpack the `mdhd` language field: three 5-bit letters, each offset by 0x60.
pub(crate) fn from_mdhd(packed: u16) -> Option<String> {
    let letters: String = [10u16, 5, 0]
        .iter()
        .map(|shift| (((packed >> shift) & 0x1f) as u8).wrapping_add(0x60) as char)
        .collect();
    letters
        .chars()
        .all(|c| c.is_ascii_lowercase())
        .then_some(letters)
}

/// The shortest BCP-47 form of a language tag: `eng` becomes `en`, `en-US` stays.
pub(crate) fn shortest(tag: &str) -> String {
    let (primary, rest) = match tag.split_once('-') {
        Some((p, r)) => (p, Some(r)),
        None => (tag, None),
    };
    let primary = primary.to_ascii_lowercase();
    let short = if primary.len() == 3 {
        row(|codes| codes[1..].contains(&primary.as_str()))
            .map(|codes| codes[0].to_string())
            .unwrap_or(primary)
    } else {
        primary
    };
    match rest {
        Some(r) => format!("{short}-{r}"),
        None => short,
    }
}

/// The ISO 639-2 code of a tag's language (`en` and `en-US` give `eng`; a three-letter
/// or unknown primary subtag stays as it is), for the places that want one.
pub(crate) fn iso639_2(tag: &str) -> String {
    let primary = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    if primary.len() != 2 {
        return primary;
    }
    row(|codes| codes[0] == primary)
        .map(|codes| codes[1].to_string())
        .unwrap_or(primary)
}

/// The codes of the first row of [`TABLE`] that `pick` takes: ISO 639-1, then 639-2.
fn row(pick: impl Fn(&[&str]) -> bool) -> Option<Vec<&'static str>> {
    TABLE
        .split('|')
        .map(|row| row.split(' ').collect::<Vec<_>>())
        .find(|codes| codes.len() >= 2 && pick(codes))
}

/// Whether `tag` looks like a BCP-47 language tag: alphanumeric subtags joined by `-`.
pub(crate) fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag
            .split('-')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_forms() {
        assert_eq!(shortest("eng"), "en");
        assert_eq!(shortest("ger"), "de");
        assert_eq!(shortest("deu"), "de");
        assert_eq!(shortest("zho"), "zh");
        assert_eq!(shortest("und"), "und");
        assert_eq!(shortest("yue"), "yue");
        assert_eq!(shortest("en-US"), "en-US");
        assert_eq!(shortest("por-BR"), "pt-BR");
    }

    #[test]
    fn iso639_2_forms() {
        assert_eq!(iso639_2("en"), "eng");
        assert_eq!(iso639_2("de-AT"), "deu");
        assert_eq!(iso639_2("und"), "und");
        assert_eq!(iso639_2("yue"), "yue");
        assert_eq!(iso639_2("xx"), "xx");
    }

    #[test]
    fn mdhd_packing() {
        // "und" = 0x55C4, "eng" = 0x15C7
        assert_eq!(from_mdhd(0x55C4).as_deref(), Some("und"));
        assert_eq!(from_mdhd(0x15C7).as_deref(), Some("eng"));
        assert_eq!(from_mdhd(0), None);
    }
}
