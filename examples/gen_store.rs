//! Generates a synthetic article store for benchmarks: N groups of translated Markdown
//! articles (about 3.5 KB each; Chinese and English, and Russian with LANGS = 3) spread over
//! years, months and both sectors, some untagged so keyword classification runs too.
//! Deterministic: the same N gives the same files.
//!
//! `cargo run --release --example gen_store -- DIR GROUPS [LANGS]`

use std::fmt::Write as _;
use std::path::PathBuf;

const ZH_SENTENCES: [&str; 6] = [
    "市政府外办负责同志会见了来访的代表团，双方就深化友好城市关系、扩大经贸往来进行了深入交流。",
    "代表团参观了沈阳综合保税区和中德（沈阳）高端装备制造产业园，了解园区企业的投资运营情况。",
    "双方表示，将进一步加强在教育、文化、旅游和青年领域的交流合作，推动务实合作不断取得新成果。",
    "市政府外办将充分发挥资源、渠道、信息和平台优势，为中外企业提供政策咨询和项目对接服务。",
    "此次活动吸引了来自日本、韩国、俄罗斯和德国的四十余家企业参加，现场签订合作意向十余项。",
    "与会嘉宾一致认为，沈阳区位优势明显，产业基础雄厚，营商环境持续优化，合作前景十分广阔。",
];

const EN_SENTENCES: [&str; 6] = [
    "The Director-General of the Foreign Affairs Office met the visiting delegation, and the two sides held in-depth talks on deepening sister-city ties and expanding economic exchanges.",
    "The delegation toured the Shenyang Comprehensive Bonded Zone and the Sino-German Advanced Equipment Manufacturing Industrial Park to learn about the companies operating there.",
    "Both sides agreed to strengthen cooperation in education, culture, tourism and youth affairs, and to keep delivering practical results.",
    "The Office will make full use of its resources, channels, information and platforms to offer policy advice and project matchmaking to Chinese and foreign companies.",
    "More than forty companies from Japan, the Republic of Korea, Russia and Germany took part, and over ten cooperation intentions were signed on site.",
    "Guests agreed that Shenyang's location, industrial base and improving business environment offer broad prospects for cooperation.",
];

const RU_SENTENCES: [&str; 6] = [
    "Руководитель Канцелярии по иностранным делам встретился с делегацией; стороны подробно обсудили развитие связей городов-побратимов и расширение экономических обменов.",
    "Делегация посетила Шэньянскую комплексную бондовую зону и Китайско-германский индустриальный парк передового машиностроения и ознакомилась с работой компаний.",
    "Стороны договорились укреплять сотрудничество в сфере образования, культуры, туризма и работы с молодёжью и добиваться практических результатов.",
    "Канцелярия будет в полной мере использовать свои ресурсы, каналы и площадки, чтобы консультировать китайские и иностранные компании и подбирать им партнёров.",
    "В мероприятии приняли участие более сорока компаний из Японии, Республики Корея, России и Германии; на месте подписано более десяти соглашений о намерениях.",
    "Гости отметили, что расположение Шэньяна, его промышленная база и улучшающийся деловой климат открывают широкие перспективы для сотрудничества.",
];

fn body(sentences: &[&str], seed: usize, target_bytes: usize) -> String {
    let mut out = String::with_capacity(target_bytes + 256);
    let mut i = seed;
    while out.len() < target_bytes {
        for _ in 0..3 {
            out.push_str(sentences[i % sentences.len()]);
            i = i.wrapping_mul(31).wrapping_add(7);
        }
        out.push_str("\n\n");
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(pairs)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_store DIR GROUPS [LANGS]");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let pairs: usize = pairs.parse().unwrap_or_else(|_| {
        eprintln!("PAIRS must be a number");
        std::process::exit(2);
    });
    let langs: usize = match args.next().as_deref() {
        None | Some("2") => 2,
        Some("3") => 3,
        Some(other) => {
            eprintln!("LANGS must be 2 or 3, not {other}");
            std::process::exit(2);
        }
    };
    let mut front = String::new();
    for n in 0..pairs {
        // Spread over 2010-2025, every month, hours of the day.
        let year = 2010 + (n * 16 / pairs.max(1));
        let month = 1 + (n % 12);
        let day = 1 + (n / 12 % 28);
        let hour = n % 24;
        let folder = dir.join(format!("{year}/{month:02}"));
        if let Err(e) = std::fs::create_dir_all(&folder) {
            eprintln!("cannot create {}: {e}", folder.display());
            std::process::exit(1);
        }
        let sectors = match n % 4 {
            0 => "sectors = [\"trade\"]\n",
            1 => "sectors = [\"foreign-affairs\"]\n",
            2 => "sectors = [\"foreign-affairs\", \"trade\"]\n",
            _ => "", // classified by keywords
        };
        let versions = [
            ("zh", format!("沈阳市对外交流合作动态第{n}期"), &ZH_SENTENCES),
            ("en", format!("Shenyang International Exchange and Cooperation Update No. {n}"), &EN_SENTENCES),
            ("ru", format!("Новости международного обмена и сотрудничества Шэньяна, выпуск {n}"), &RU_SENTENCES),
        ];
        for (lang, title, sentences) in versions.into_iter().take(langs) {
            front.clear();
            let _ = write!(
                front,
                "+++\ntitle = \"{title}\"\ndate = {year}-{month:02}-{day:02}T{hour:02}:00:00+08:00\n{sectors}author = \"外办\"\n+++\n"
            );
            let text = front.clone() + &body(sentences, n, 3300);
            let path = folder.join(format!("update-{n:06}.{lang}.md"));
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    }
}
