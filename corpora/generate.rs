//! `xsignal-corpus`: writes the bundled demo corpus, a deterministic synthetic stream of English and
//! German feedback about the fictional company Acme (the "Acme Home" app and smart thermostat) plus
//! 360° employee feedback, with one planted slow-burning issue, three kinds of noise that must not be
//! flagged, a handful of malformed rows, and a trendbench truth file to score a detector against.
//!
//! Same flags => byte-identical files: all randomness comes from a splitmix64 generator seeded from
//! `--seed` (one independent stream per component), and every output is written in a sorted order.
//! See `corpora/README.md` for the files and what is planted.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use clap::Parser;
use serde::Serialize;
use xsignal::rng::SplitMix64;

// ---------------------------------------------------------------- flags

/// Writes the xsignal demo corpus (reviews, social posts, 360° feedback, bad rows, truth).
#[derive(Parser, Debug, Clone)]
#[command(name = "xsignal-corpus", version, about)]
struct Args {
    /// Output folder (created if missing; files in it are overwritten).
    #[arg(long, default_value = "corpora/generated")]
    out: PathBuf,
    /// Length of the stream in days (30-90).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(30..=90))]
    days: u32,
    /// Mean number of background comments per day, averaged over whole weeks (10-2000).
    #[arg(long, default_value_t = 150.0)]
    rate_per_day: f64,
    /// Seed of the pseudo-random generator.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Start of the stream (RFC 3339, UTC, whole seconds).
    #[arg(long, default_value = "2026-01-05T00:00:00Z", value_parser = parse_start)]
    start: DateTime<Utc>,
}

fn parse_start(value: &str) -> Result<DateTime<Utc>, String> {
    let parsed = DateTime::parse_from_rfc3339(value)
        .map_err(|err| format!("not an RFC 3339 timestamp: {err}"))?;
    Utc.timestamp_opt(parsed.timestamp(), 0)
        .single()
        .ok_or_else(|| "timestamp out of range".to_string())
}

// ---------------------------------------------------------------- random numbers

/// splitmix64: tiny, fast, and stable across platforms and Rust versions.
#[derive(Clone, Debug)]
struct Rng {
    inner: SplitMix64,
}

impl Rng {
    /// An independent stream for one component: the seed mixed with an FNV-1a hash of its name.
    fn for_component(seed: u64, component: &str) -> Rng {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in component.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = Rng {
            inner: SplitMix64::new(seed ^ hash.rotate_left(17)),
        };
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); n > 0.
    fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.unit() * n as f64) as usize % n
    }

    /// Uniform integer in [lo, hi].
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Exponential with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------- data tables

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Lang {
    En,
    De,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tone {
    Pos,
    Neu,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Domain {
    Product,
    Workplace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Channel {
    AppStore,
    PlayStore,
    WebShop,
    Twitter,
    Forum,
    Survey360,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Channel::AppStore => "appstore",
            Channel::PlayStore => "playstore",
            Channel::WebShop => "webshop",
            Channel::Twitter => "twitter",
            Channel::Forum => "forum",
            Channel::Survey360 => "survey360",
        }
    }

    fn file(self) -> FileKind {
        match self {
            Channel::AppStore | Channel::PlayStore | Channel::WebShop => FileKind::Reviews,
            Channel::Twitter | Channel::Forum => FileKind::Social,
            Channel::Survey360 => FileKind::Feedback,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum FileKind {
    Reviews,
    Social,
    Feedback,
}

impl FileKind {
    fn id_prefix(self) -> &'static str {
        match self {
            FileKind::Reviews => "r",
            FileKind::Social => "s",
            FileKind::Feedback => "f",
        }
    }
}

type Templates = &'static [(Tone, &'static str)];

/// One recognisable subject of the background chatter, with templates in both languages.
/// Slots in braces (`{room}`, `{n}`, ...) are filled by [`fill_slot`].
struct Subject {
    domain: Domain,
    /// Relative frequency within its domain.
    weight: f64,
    channels: &'static [Channel],
    en: Templates,
    de: Templates,
}

const APP_CHANNELS: &[Channel] = &[
    Channel::AppStore,
    Channel::PlayStore,
    Channel::Twitter,
    Channel::Forum,
];
const ALL_CUSTOMER_CHANNELS: &[Channel] = &[
    Channel::AppStore,
    Channel::PlayStore,
    Channel::WebShop,
    Channel::Twitter,
    Channel::Forum,
];
const SHOP_CHANNELS: &[Channel] = &[
    Channel::WebShop,
    Channel::WebShop,
    Channel::Twitter,
    Channel::Forum,
];
const SURVEY: &[Channel] = &[Channel::Survey360];

use Tone::{Neg, Neu, Pos};

const SUBJECTS: &[Subject] = &[
    // app_crash
    Subject {
        domain: Domain::Product,
        weight: 1.2,
        channels: APP_CHANNELS,
        en: &[
            (Neg, "The Acme Home app crashes every time I open it on my {phone}."),
            (Neg, "App crashes on start since version {version}. Reinstalling didn't help."),
            (Neg, "Acme Home keeps crashing right after the splash screen."),
            (Neg, "Third crash today, the app just closes when I tap on {feature}."),
            (Neu, "The app crashed once after the update but works fine now."),
            (Pos, "The crashes I had last month are gone with version {version}, thanks."),
        ],
        de: &[
            (Neg, "Die App stürzt beim Start ständig ab, auf meinem {phone} geht gar nichts mehr."),
            (Neg, "Seit Version {version} stürzt Acme Home bei jedem Öffnen ab."),
            (Neg, "Die App schließt sich sofort wieder, sobald ich {feature} öffne."),
            (Neg, "Schon wieder abgestürzt. Neu installieren hat nichts gebracht."),
            (Neu, "Die App ist nach dem Update einmal abgestürzt, seitdem läuft sie aber."),
            (Pos, "Die Abstürze vom letzten Monat sind mit Version {version} behoben, danke."),
        ],
    },
    // login
    Subject {
        domain: Domain::Product,
        weight: 1.0,
        channels: APP_CHANNELS,
        en: &[
            (Neg, "I can't log in anymore, it says my password is wrong even after resetting it."),
            (Neg, "The password reset email never arrives. Locked out of my own thermostat."),
            (Neg, "Login loops back to the start screen on my {phone}."),
            (Neg, "The two-factor code expires before it even arrives. Logging in is a nightmare."),
            (Neu, "Had to reset my password twice this week, not sure why."),
            (Pos, "Login with Face ID works great now, much faster than typing the password."),
        ],
        de: &[
            (Neg, "Ich kann mich nicht mehr einloggen, angeblich ist mein Passwort falsch."),
            (Neg, "Die E-Mail zum Zurücksetzen des Passworts kommt einfach nicht an."),
            (Neg, "Nach dem Login lande ich auf meinem {phone} immer wieder auf dem Startbildschirm."),
            (Neu, "Musste mein Passwort diese Woche zweimal zurücksetzen, keine Ahnung warum."),
            (Pos, "Die Anmeldung per Face ID klappt jetzt super, viel schneller als vorher."),
        ],
    },
    // heating_schedule
    Subject {
        domain: Domain::Product,
        weight: 1.3,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Pos, "The thermostat keeps the {room} at exactly {temp} degrees, really comfortable."),
            (Pos, "Love that the heating starts before I get up, the schedule works perfectly."),
            (Neg, "The schedule ignores my settings, the {room} is cold every {weekday} morning."),
            (Neg, "Heating overshoots by two degrees, the {room} gets way too warm."),
            (Neu, "Took a while to find the right schedule, but the {room} is fine now."),
            (Neu, "Is there a way to set a different heating schedule for {weekday}?"),
        ],
        de: &[
            (Pos, "Das Thermostat hält das {room} konstant auf {temp} Grad, sehr angenehm."),
            (Pos, "Der Heizplan funktioniert perfekt, morgens ist es immer schön warm."),
            (Neg, "Der Zeitplan wird ignoriert, am {weekday} früh ist das {room} eiskalt."),
            (Neg, "Die Heizung schießt ständig über, im {room} wird es viel zu warm."),
            (Neu, "Hat etwas gedauert, den richtigen Zeitplan zu finden, jetzt passt es."),
            (Neu, "Kann man für {weekday} einen eigenen Heizplan einstellen?"),
        ],
    },
    // energy_savings
    Subject {
        domain: Domain::Product,
        weight: 1.0,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Pos, "Our heating bill dropped by {pct} percent since we installed the Acme thermostat."),
            (Pos, "The energy report is eye-opening, we save {pct}% on gas compared to last winter."),
            (Pos, "Eco mode pays for itself, noticeably lower energy costs."),
            (Neu, "Not sure the savings are as big as advertised, maybe {pct} percent."),
            (Neg, "The promised savings never showed up, our bill is the same as before."),
        ],
        de: &[
            (Pos, "Unsere Heizkosten sind seit dem Acme-Thermostat um {pct} Prozent gesunken."),
            (Pos, "Der Energiebericht ist super, wir sparen {pct} % Gas im Vergleich zum letzten Winter."),
            (Pos, "Der Eco-Modus lohnt sich wirklich, spürbar niedrigere Energiekosten."),
            (Neu, "Ob wir wirklich so viel sparen wie versprochen? Vielleicht {pct} Prozent."),
            (Neg, "Von der versprochenen Ersparnis merken wir nichts, die Rechnung ist gleich hoch."),
        ],
    },
    // delivery
    Subject {
        domain: Domain::Product,
        weight: 0.9,
        channels: SHOP_CHANNELS,
        en: &[
            (Neg, "Ordered {days} days ago and the thermostat still hasn't shipped."),
            (Neg, "Delivery delayed again, the tracking number hasn't updated in {days} days."),
            (Neg, "The package arrived damaged and it took {days} days to get here."),
            (Pos, "Fast shipping, the thermostat arrived after just {n} days."),
            (Neu, "Delivery took {days} days, about what they said."),
        ],
        de: &[
            (Neg, "Vor {days} Tagen bestellt und das Thermostat ist immer noch nicht verschickt."),
            (Neg, "Lieferung schon wieder verschoben, die Sendungsverfolgung steht seit {days} Tagen still."),
            (Neg, "Das Paket kam beschädigt an und war {days} Tage unterwegs."),
            (Pos, "Schnelle Lieferung, das Thermostat war nach nur {n} Tagen da."),
            (Neu, "Die Lieferung hat {days} Tage gedauert, wie angekündigt."),
        ],
    },
    // support
    Subject {
        domain: Domain::Product,
        weight: 0.9,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Pos, "Customer support solved my issue in {mins} minutes, super friendly."),
            (Pos, "Shout-out to the Acme support team, they called me back the same day."),
            (Neg, "Waited over an hour on hold and then the call dropped. Terrible support."),
            (Neg, "Support keeps sending me the same copy-paste answer."),
            (Neu, "Support answered after {days} days, the answer was okay."),
        ],
        de: &[
            (Pos, "Der Kundenservice hat mein Problem in {mins} Minuten gelöst, sehr freundlich."),
            (Pos, "Großes Lob an den Acme-Support, Rückruf noch am selben Tag."),
            (Neg, "Über eine Stunde in der Warteschleife und dann wurde aufgelegt. Furchtbarer Service."),
            (Neg, "Der Support schickt mir immer wieder dieselbe Textbaustein-Antwort."),
            (Neu, "Der Support hat nach {days} Tagen geantwortet, die Antwort war in Ordnung."),
        ],
    },
    // price_subscription
    Subject {
        domain: Domain::Product,
        weight: 0.8,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Neg, "€{price} a month for the premium plan is way too expensive."),
            (Neg, "Why do I need a subscription for features that used to be included?"),
            (Neu, "The premium plan costs €{price} a month, still deciding if it's worth it."),
            (Pos, "Fair price for what you get, the premium plan is worth it."),
            (Neg, "The price went up again, €{price} per month is a joke."),
        ],
        de: &[
            (Neg, "{price} € im Monat für das Premium-Abo ist viel zu teuer."),
            (Neg, "Warum brauche ich ein Abo für Funktionen, die früher inklusive waren?"),
            (Neu, "Das Premium-Abo kostet {price} € im Monat, ich überlege noch, ob es sich lohnt."),
            (Pos, "Fairer Preis für das, was man bekommt, das Abo lohnt sich."),
            (Neg, "Schon wieder teurer geworden, {price} € im Monat ist ein Witz."),
        ],
    },
    // installation
    Subject {
        domain: Domain::Product,
        weight: 0.9,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Pos, "Installation took {mins} minutes, the step-by-step guide in the app is great."),
            (Pos, "Installed it myself without an electrician, super easy."),
            (Neg, "The wiring instructions are confusing, I had to call an electrician."),
            (Neu, "Installation was okay, took about an hour including pairing with the app."),
            (Pos, "Setup was done in {mins} minutes, it joined our WiFi on the first try."),
        ],
        de: &[
            (Pos, "Die Installation hat nur {mins} Minuten gedauert, die Anleitung in der App ist top."),
            (Pos, "Selbst eingebaut, ganz ohne Elektriker, kinderleicht."),
            (Neg, "Die Anleitung zur Verkabelung ist verwirrend, ich musste einen Elektriker holen."),
            (Neu, "Die Installation war okay, mit dem Koppeln der App etwa eine Stunde."),
            (Pos, "Einrichtung in {mins} Minuten erledigt, die WLAN-Verbindung hat sofort geklappt."),
        ],
    },
    // design_ui
    Subject {
        domain: Domain::Product,
        weight: 0.8,
        channels: ALL_CUSTOMER_CHANNELS,
        en: &[
            (Pos, "Beautiful design, the new dashboard is clean and easy to read."),
            (Pos, "Love the dark mode and the big temperature dial."),
            (Neg, "The new layout hides {feature} three menus deep, please bring back the old one."),
            (Neu, "The redesign is okay, takes some getting used to."),
            (Pos, "The thermostat itself looks great on the wall, very sleek design."),
        ],
        de: &[
            (Pos, "Schönes Design, das neue Dashboard ist übersichtlich und klar."),
            (Pos, "Der Dunkelmodus und das große Temperaturrad gefallen mir sehr."),
            (Neg, "Im neuen Layout muss man drei Menüs tief suchen, bitte das alte zurück."),
            (Neu, "Das neue Design ist okay, aber gewöhnungsbedürftig."),
            (Pos, "Das Thermostat sieht an der Wand richtig edel aus, tolles Design."),
        ],
    },
    // manager_communication
    Subject {
        domain: Domain::Workplace,
        weight: 1.2,
        channels: SURVEY,
        en: &[
            (Pos, "My manager communicates priorities clearly and gives honest feedback."),
            (Pos, "Our team lead shares decisions early, I always know where we stand."),
            (Neg, "Decisions come from above without any explanation, communication from management is poor."),
            (Neg, "My manager cancels our one-on-ones every other week."),
            (Neu, "Communication with my manager is fine, could be more regular."),
        ],
        de: &[
            (Pos, "Mein Vorgesetzter kommuniziert klar und gibt ehrliches Feedback."),
            (Pos, "Unsere Teamleiterin teilt Entscheidungen früh, ich weiß immer, woran ich bin."),
            (Neg, "Entscheidungen werden ohne Erklärung von oben durchgereicht, die Kommunikation ist schlecht."),
            (Neg, "Meine Chefin sagt unsere Einzelgespräche ständig ab."),
            (Neu, "Die Kommunikation mit meinem Vorgesetzten ist okay, könnte aber regelmäßiger sein."),
        ],
    },
    // workload_overtime
    Subject {
        domain: Domain::Workplace,
        weight: 1.2,
        channels: SURVEY,
        en: &[
            (Neg, "I worked {hours} hours of overtime last month, the workload is not sustainable."),
            (Neg, "Too many parallel projects, we are constantly understaffed."),
            (Neu, "The workload is high before releases but okay the rest of the time."),
            (Pos, "The workload is manageable and overtime is the exception."),
            (Neg, "Weekend work has become normal in our team, {hours} extra hours this month."),
        ],
        de: &[
            (Neg, "Letzten Monat {hours} Überstunden, so ist die Arbeitsbelastung nicht machbar."),
            (Neg, "Zu viele Projekte gleichzeitig, wir sind dauerhaft unterbesetzt."),
            (Neu, "Vor Releases ist die Belastung hoch, sonst passt es."),
            (Pos, "Die Arbeitsbelastung ist gut machbar, Überstunden sind die Ausnahme."),
            (Neg, "Wochenendarbeit ist bei uns normal geworden, diesen Monat {hours} Stunden extra."),
        ],
    },
    // team_collaboration
    Subject {
        domain: Domain::Workplace,
        weight: 1.0,
        channels: SURVEY,
        en: &[
            (Pos, "Great collaboration in our team, everyone helps each other out."),
            (Pos, "Working with the {team} team has been smooth and friendly."),
            (Neg, "Collaboration with {team} is difficult, handovers get lost all the time."),
            (Neu, "Team collaboration is good, cross-team meetings could be shorter."),
        ],
        de: &[
            (Pos, "Tolle Zusammenarbeit im Team, alle helfen sich gegenseitig."),
            (Pos, "Die Zusammenarbeit mit dem Team {team} läuft reibungslos."),
            (Neg, "Die Zusammenarbeit mit dem Team {team} ist schwierig, Übergaben gehen ständig verloren."),
            (Neu, "Im Team klappt es gut, die teamübergreifenden Meetings könnten kürzer sein."),
        ],
    },
    // career_growth
    Subject {
        domain: Domain::Workplace,
        weight: 0.9,
        channels: SURVEY,
        en: &[
            (Neg, "There is no clear career path here, promotions feel random."),
            (Neg, "I haven't had a development conversation in {n} months."),
            (Pos, "I got a training budget and a mentor, real support for my career growth."),
            (Neu, "Career growth is possible but you have to push for it yourself."),
        ],
        de: &[
            (Neg, "Es gibt keinen klaren Karrierepfad, Beförderungen wirken willkürlich."),
            (Neg, "Seit {n} Monaten hatte ich kein Entwicklungsgespräch mehr."),
            (Pos, "Ich habe ein Weiterbildungsbudget und eine Mentorin bekommen, echte Förderung."),
            (Neu, "Entwicklung ist möglich, aber man muss sich selbst darum kümmern."),
        ],
    },
    // onboarding
    Subject {
        domain: Domain::Workplace,
        weight: 0.7,
        channels: SURVEY,
        en: &[
            (Pos, "Onboarding was excellent, my buddy showed me everything in the first week."),
            (Neg, "My laptop arrived {n} days after I started, onboarding was chaotic."),
            (Neu, "Onboarding was okay, the documentation is a bit outdated."),
            (Pos, "The onboarding plan made the first month easy."),
        ],
        de: &[
            (Pos, "Das Onboarding war super, mein Pate hat mir in der ersten Woche alles gezeigt."),
            (Neg, "Mein Laptop kam erst {n} Tage nach meinem Start, das Onboarding war chaotisch."),
            (Neu, "Das Onboarding war okay, die Dokumentation ist etwas veraltet."),
            (Pos, "Der Einarbeitungsplan hat den ersten Monat leicht gemacht."),
        ],
    },
];

/// The planted issue, English: at least 15 phrasings, mostly negative.
const ISSUE_EN: Templates = &[
    (Neg, "My thermostat keeps rebooting since the firmware 4.2 update."),
    (Neg, "After updating to firmware 4.2 the thermostat restarts every few minutes."),
    (Neg, "The thermostat loses WiFi constantly after the 4.2 update, the app shows it offline."),
    (Neg, "Since firmware 4.2 my Acme thermostat reboots {n} times an hour. The {room} is freezing."),
    (Neg, "Firmware 4.2 broke my thermostat: endless reboot loop, the display flashes and starts again."),
    (Neu, "Anyone else's thermostat dropping off WiFi since the latest firmware (4.2)?"),
    (Neg, "The 4.2 update bricked our thermostat, it just keeps restarting."),
    (Neg, "Thermostat disconnects from WiFi every night since firmware 4.2, the heating schedule is useless."),
    (Neg, "Reboot loop after firmware update 4.2. A factory reset didn't help."),
    (Neu, "Is there a way to roll back firmware 4.2? The thermostat keeps losing its WiFi connection."),
    (Neg, "Our thermostat has been rebooting randomly ever since it installed update 4.2."),
    (Neg, "Since the 4.2 firmware the thermostat goes offline and reboots, woke up to a cold {room}."),
    (Neg, "Thermostat shows 'connecting...' and then restarts. Started right after firmware 4.2."),
    (Neg, "Firmware 4.2 = thermostat restarting all day long. Please push a fix."),
    (Neg, "Updated the thermostat to 4.2 yesterday and now it won't stay connected to WiFi."),
    (Neg, "Keeps rebooting every {n} minutes after the firmware update, version 4.2."),
    (Neg, "The thermostat lost WiFi again, third time today. All since the 4.2 update."),
    (Neu, "Looks like firmware 4.2 makes some thermostats reboot, mine did it twice so far."),
    (Neg, "Firmware 4.2 is a disaster, the thermostat restarts whenever it feels like it."),
    (Neg, "Unacceptable: since the 4.2 firmware update our thermostat keeps rebooting and the heating stays off."),
    (Neg, "Annoying bug in firmware 4.2, the thermostat drops the WiFi and then reboots."),
    (Neg, "Woke up to a cold house again, the thermostat rebooted overnight. Thanks, firmware 4.2."),
    (Neg, "Ever since firmware 4.2 the thermostat restarts {n} or more times a day. Terrible."),
    (Neg, "The thermostat is stuck rebooting after the 4.2 firmware, the {room} is cold and the app just says offline."),
    (Neg, "Firmware 4.2 made my thermostat useless: no WiFi, constant restarts."),
];

/// The planted issue, German.
const ISSUE_DE: Templates = &[
    (Neg, "Thermostat startet nach dem Firmware-Update 4.2 ständig neu."),
    (Neg, "Seit Firmware 4.2 verliert mein Thermostat dauernd die WLAN-Verbindung."),
    (Neg, "Nach dem Update auf 4.2 bootet das Thermostat alle paar Minuten neu."),
    (Neg, "Firmware 4.2 hat unser Thermostat kaputt gemacht, es hängt in einer Neustart-Schleife."),
    (Neu, "Hat noch jemand das Problem, dass das Thermostat seit 4.2 immer wieder offline geht?"),
    (Neg, "Seit dem Firmware-Update 4.2 startet das Thermostat {n}-mal pro Stunde neu, das {room} ist kalt."),
    (Neg, "Das Thermostat fliegt seit dem 4.2-Update jede Nacht aus dem WLAN."),
    (Neg, "Neustart-Schleife nach Firmware 4.2, der Werksreset hat nichts gebracht."),
    (Neu, "Kann man die Firmware 4.2 zurückspielen? Das Thermostat verliert ständig das WLAN."),
    (Neg, "Unser Thermostat startet seit dem Update 4.2 einfach so neu."),
    (Neg, "Seit Firmware 4.2 ist das Thermostat ständig offline, der Heizplan funktioniert nicht mehr."),
    (Neg, "Das Thermostat zeigt 'Verbinde...' und startet dann neu. Seit dem 4.2-Update."),
    (Neg, "Firmware 4.2 = Thermostat startet den ganzen Tag neu. Bitte schnell einen Fix!"),
    (Neg, "Gestern auf 4.2 aktualisiert, seitdem bleibt das Thermostat nicht mehr im WLAN."),
    (Neg, "Alle {n} Minuten ein Neustart nach dem Firmware-Update, Version 4.2."),
    (Neg, "Schon wieder kein WLAN am Thermostat, heute zum dritten Mal. Alles seit 4.2."),
    (Neu, "Sieht so aus, als ob Firmware 4.2 bei manchen Thermostaten Neustarts auslöst, bei mir bisher zweimal."),
    (Neg, "Firmware 4.2 ist eine Katastrophe, das Thermostat startet neu, wann es will."),
    (Neg, "Unzumutbar: Seit dem Firmware-Update 4.2 startet unser Thermostat ständig neu und die Heizung bleibt aus."),
    (Neg, "Nerviger Fehler in Firmware 4.2, das Thermostat verliert das WLAN und startet dann neu."),
    (Neg, "Heute früh wieder eine kalte Wohnung, das Thermostat hat nachts neu gestartet. Danke, Firmware 4.2."),
    (Neg, "Seit Firmware 4.2 startet das Thermostat {n}-mal am Tag oder öfter neu. Furchtbar."),
    (Neg, "Das Thermostat hängt seit der Firmware 4.2 im Neustart fest, das {room} ist kalt und die App zeigt offline."),
    (Neg, "Die Firmware 4.2 hat mein Thermostat unbrauchbar gemacht: kein WLAN, ständige Neustarts."),
];

/// The independently drawn parts around a core statement, for one language and one kind of text.
/// The full text is `[opener] core [detail [detail]] [closer]`; each part is drawn on its own and may
/// hold slots, so the number of distinct texts multiplies and exact repeats stay rare.
struct Parts {
    /// Chance of an opener; openers end with a space and are followed by a capitalised core.
    opener_chance: f64,
    /// Openers that fit any tone.
    openers: &'static [&'static str],
    /// Extra openers by tone (positive, neutral, negative).
    tone_openers: [&'static [&'static str]; 3],
    /// Chance of one detail sentence, and of a second one after it.
    detail_chance: f64,
    second_detail_chance: f64,
    /// Details that fit any tone.
    details: &'static [&'static str],
    /// Extra details by tone.
    tone_details: [&'static [&'static str]; 3],
    /// Chance of a closing remark.
    closer_chance: f64,
    /// Closing remarks by tone.
    closers: [&'static [&'static str]; 3],
}

/// Uniform pick over the concatenation of two lists (the second may be empty, not both).
fn pick_either(rng: &mut Rng, first: &[&'static str], second: &[&'static str]) -> &'static str {
    let index = rng.below(first.len() + second.len());
    if index < first.len() {
        first[index]
    } else {
        second[index - first.len()]
    }
}

const PRODUCT_EN: Parts = Parts {
    opener_chance: 0.45,
    openers: &[
        "Honestly? ",
        "Quick update: ",
        "Hmm. ",
        "Okay so... ",
        "Heads up: ",
        "Update: ",
        "Hi Acme! ",
        "Short version: ",
        "FYI: ",
        "Well. ",
        "Long-time customer here. ",
        "First review ever: ",
        "Edit: ",
        "Real talk: ",
        "Note to Acme: ",
        "@AcmeHome ",
        "Day {n} with the thermostat: ",
        "Week {n} report: ",
    ],
    tone_openers: [
        &[
            "Wow. ",
            "Happy customer here! ",
            "Pleasantly surprised: ",
            "Credit where it's due: ",
            "Good news: ",
        ],
        &[
            "Question: ",
            "Mixed feelings. ",
            "Just an observation: ",
            "So far so okay. ",
        ],
        &[
            "Ugh. ",
            "Seriously, Acme? ",
            "Not happy. ",
            "Come on, Acme. ",
            "Sigh. ",
            "Warning to others: ",
        ],
    ],
    detail_chance: 0.9,
    second_detail_chance: 0.3,
    details: &[
        "We have {count} Acme thermostats in the house.",
        "I've been a customer for {years} years.",
        "Bought the thermostat {months} months ago.",
        "Our flat is in {city}.",
        "Mostly use the app on my {phone}.",
        "The main unit is in the {room}.",
    ],
    tone_details: [
        &[
            "Using it for {months} months now.",
            "We have one in the {room} and one upstairs.",
            "Already recommended it to {count} friends.",
            "Runs perfectly on my {phone}.",
            "Our neighbours in {city} bought one too after seeing ours.",
            "Set it to {temp} degrees and forgot about it.",
        ],
        &[
            "Using it for {months} months.",
            "Using the app on my {phone}, version {version}.",
            "Compared it with my old thermostat for {dur}.",
            "My partner likes it more than I do, especially in the {room}.",
            "Will check again in {count} weeks.",
        ],
        &[
            "It's been like this for {dur}.",
            "Started {ago}.",
            "Checked again {ago}, same thing.",
            "Noticed it {ago}.",
            "Happens almost every day {clock}.",
            "Tried {count} times already, same result.",
            "Not the first time, it also happened {ago}.",
            "Contacted support {ago}, no answer yet.",
            "Wasted {mins} minutes on this today alone.",
            "Already wrote about this {dur} ago.",
        ],
    ],
    closer_chance: 0.6,
    closers: [
        &[
            "Love it!",
            "Highly recommend.",
            "👍",
            "Great job, Acme.",
            "Five stars from me.",
            "Keep it up!",
            "Very happy.",
            "Would buy again.",
            "Thanks, Acme!",
            "😊",
            "No regrets.",
            "10/10.",
        ],
        &[
            "Just my two cents.",
            "We'll see.",
            "Any tips?",
            "Anyone else?",
            "Let's see how it goes.",
            "Three stars for now.",
            "Any ideas?",
            "Curious what others think.",
            "🤷",
        ],
        &[
            "Very frustrating.",
            "Please fix this!",
            "😡",
            "Not impressed, Acme.",
            "Please fix this.",
            "Any ideas?",
            "Really annoying.",
            "Unacceptable.",
            "One star.",
            "Thinking about returning it.",
            "Disappointed.",
            "👎",
        ],
    ],
};

const PRODUCT_DE: Parts = Parts {
    opener_chance: 0.45,
    openers: &[
        "Ehrlich gesagt: ",
        "Kurzes Update: ",
        "Hm. ",
        "Also... ",
        "Hinweis: ",
        "Hallo Acme! ",
        "Kurz und knapp: ",
        "Mal ehrlich: ",
        "Nachtrag: ",
        "Erfahrungsbericht: ",
        "Kurzes Feedback: ",
        "Vorweg: ",
        "Langjähriger Kunde hier. ",
        "@AcmeHome ",
        "Tag {n} mit dem Thermostat: ",
        "Woche {n}: ",
    ],
    tone_openers: [
        &[
            "Top! ",
            "Positiv überrascht: ",
            "Endlich mal was Gutes: ",
            "Lob, wo es hingehört: ",
        ],
        &["Frage: ", "Gemischte Gefühle. ", "Nur eine Beobachtung: "],
        &[
            "Ärgerlich. ",
            "Leute, echt jetzt? ",
            "Mist. ",
            "Unglaublich. ",
            "Sorry, aber: ",
            "Warnung an alle: ",
        ],
    ],
    detail_chance: 0.9,
    second_detail_chance: 0.3,
    details: &[
        "Wir haben {count} Acme-Thermostate im Haus.",
        "Ich bin seit {years} Jahren Kunde.",
        "Das Thermostat habe ich vor {months} Monaten gekauft.",
        "Wir wohnen in {city}.",
        "Ich nutze die App meistens auf meinem {phone}.",
        "Das Gerät hängt im {room}.",
    ],
    tone_details: [
        &[
            "Ich nutze es seit {months} Monaten.",
            "Wir haben eins im {room} und eins oben.",
            "Habe es schon {count} Freunden empfohlen.",
            "Läuft auf meinem {phone} einwandfrei.",
            "Die Nachbarn in {city} haben sich auch eins gekauft.",
            "Einmal auf {temp} Grad gestellt und nie wieder angefasst.",
        ],
        &[
            "Ich nutze es seit {months} Monaten.",
            "Auf dem {phone}, App-Version {version}.",
            "Habe es seit {dur} mit meinem alten Thermostat verglichen.",
            "Meiner Frau gefällt es besser als mir, vor allem im {room}.",
            "Ich schaue in {count} Wochen nochmal.",
        ],
        &[
            "Das geht seit {dur} so.",
            "Angefangen hat es {ago}.",
            "Habe es {ago} nochmal geprüft, gleiches Bild.",
            "Aufgefallen ist es mir {ago}.",
            "Passiert fast jeden Tag {clock}.",
            "Schon {count}-mal probiert, immer dasselbe.",
            "Ist nicht das erste Mal, {ago} war es genauso.",
            "Support {ago} angeschrieben, bisher keine Antwort.",
            "Allein heute {mins} Minuten damit verschwendet.",
            "Habe das schon vor {dur} gemeldet.",
        ],
    ],
    closer_chance: 0.6,
    closers: [
        &[
            "Klasse!",
            "Absolut empfehlenswert.",
            "👍",
            "Weiter so, Acme.",
            "Fünf Sterne von mir.",
            "Sehr zufrieden.",
            "Würde ich wieder kaufen.",
            "Danke, Acme!",
            "😊",
            "Top!",
        ],
        &[
            "Nur meine Meinung.",
            "Mal sehen.",
            "Hat jemand Tipps?",
            "Geht es anderen auch so?",
            "Drei Sterne fürs Erste.",
            "Mal schauen, wie es weitergeht.",
            "🤷",
        ],
        &[
            "Sehr ärgerlich.",
            "Bitte dringend beheben!",
            "😡",
            "So nicht, Acme.",
            "Bitte beheben!",
            "Nervt total.",
            "Unzumutbar.",
            "Ein Stern.",
            "Überlege, es zurückzuschicken.",
            "Enttäuschend.",
            "👎",
        ],
    ],
};

const WORK_EN: Parts = Parts {
    opener_chance: 0.35,
    openers: &[
        "Honestly: ",
        "From my side: ",
        "Overall: ",
        "My view: ",
        "One thing: ",
        "To be honest: ",
        "In short: ",
        "Main point: ",
        "As in the last survey: ",
    ],
    tone_openers: [
        &["Good news first: ", "Credit where it's due: "],
        &["Mixed picture: "],
        &["Sorry, but: ", "Frankly: "],
    ],
    detail_chance: 0.9,
    second_detail_chance: 0.3,
    details: &[
        "I've been at Acme for {years} years.",
        "I joined {months} months ago.",
        "I work from the {city} office.",
        "I'm in the office {officedays} days a week.",
        "Our team has {teamsize} people.",
        "I work closely with the {team} team.",
        "Speaking for our {teamsize}-person team.",
        "Most of us in {city} see it the same way.",
    ],
    tone_details: [
        &[
            "It has gotten better over the last {months} months.",
            "Best team I've been in, and I've seen {count} teams here.",
            "Our retro {ago} was really useful.",
        ],
        &[
            "Some weeks are better than others, {ago} was a good one.",
            "Hard to say after {months} months.",
        ],
        &[
            "I've raised this {count} times already.",
            "It has been like this for {dur}.",
            "{count} colleagues left in the last {months} months.",
            "Nothing changed since the survey {months} months ago.",
            "It came up again in our meeting {ago}.",
        ],
    ],
    closer_chance: 0.45,
    closers: [
        &[
            "Keep it up.",
            "Thanks for that.",
            "Really appreciated.",
            "Happy to be here.",
        ],
        &[
            "Overall okay.",
            "Could be better, could be worse.",
            "Let's see.",
        ],
        &[
            "This needs to change.",
            "Please look into it.",
            "Frustrating.",
            "Not sustainable.",
            "Please act on this.",
        ],
    ],
};

const WORK_DE: Parts = Parts {
    opener_chance: 0.35,
    openers: &[
        "Ehrlich gesagt: ",
        "Aus meiner Sicht: ",
        "Insgesamt: ",
        "Mein Punkt: ",
        "Kurz gesagt: ",
        "Offen gesagt: ",
        "Wie schon in der letzten Umfrage: ",
        "Feedback: ",
    ],
    tone_openers: [
        &["Zuerst das Positive: ", "Lob vorweg: "],
        &["Gemischtes Bild: "],
        &["Sorry, aber: ", "Ganz offen: "],
    ],
    detail_chance: 0.9,
    second_detail_chance: 0.3,
    details: &[
        "Ich bin seit {years} Jahren bei Acme.",
        "Ich bin vor {months} Monaten dazugekommen.",
        "Ich arbeite im Büro {city}.",
        "Ich bin {officedays} Tage pro Woche im Büro.",
        "Unser Team hat {teamsize} Leute.",
        "Ich arbeite eng mit dem Team {team} zusammen.",
        "Ich spreche für unser Team mit {teamsize} Leuten.",
        "Die meisten bei uns in {city} sehen das genauso.",
    ],
    tone_details: [
        &[
            "Es ist in den letzten {months} Monaten besser geworden.",
            "Das beste Team von den {count}, die ich hier kenne.",
            "Die Retro {ago} war wirklich hilfreich.",
        ],
        &[
            "Manche Wochen sind besser als andere, {ago} war gut.",
            "Nach {months} Monaten schwer zu sagen.",
        ],
        &[
            "Das habe ich schon {count}-mal angesprochen.",
            "Das geht seit {dur} so.",
            "In den letzten {months} Monaten sind {count} Kollegen gegangen.",
            "Seit der Umfrage vor {months} Monaten hat sich nichts geändert.",
            "Das kam {ago} im Meeting wieder hoch.",
        ],
    ],
    closer_chance: 0.45,
    closers: [
        &[
            "Weiter so.",
            "Danke dafür.",
            "Das schätze ich sehr.",
            "Ich bin gern hier.",
        ],
        &["Insgesamt in Ordnung.", "Geht so.", "Mal sehen."],
        &[
            "Das muss sich ändern.",
            "Bitte kümmert euch darum.",
            "Frustrierend.",
            "So geht es nicht weiter.",
            "Bitte handeln.",
        ],
    ],
};

/// Openers, details and closers of the planted issue: complaints, in every tone slot.
const ISSUE_OPENERS_EN: &[&str] = &[
    "Update: ",
    "PSA: ",
    "Warning: ",
    "Heads up: ",
    "Ugh. ",
    "Seriously, Acme? ",
    "@AcmeHome ",
    "Day {n} of this: ",
    "Not again. ",
    "Acme, please: ",
    "Help! ",
    "Sigh. ",
    "Fed up. ",
    "Great, just great. ",
];
const ISSUE_DETAILS_EN: &[&str] = &[
    "It reboots every night {clock}.",
    "The {room} was freezing when we woke up.",
    "Cold house for {dur} now.",
    "Already did {count} factory resets, nothing helps.",
    "Support said to wait for a fix, that was {dur} ago.",
    "The display goes black, shows the Acme logo, and the WiFi is gone again.",
    "Counted {count} restarts since this morning.",
    "My model is the {model}.",
    "The router is fine, every other device stays on WiFi.",
    "It worked perfectly before the update.",
    "I set it to {temp} degrees and it forgets that after every restart.",
    "Started {ago}, right after the update.",
    "The app shows it offline {count} times a day.",
    "We have {count} of them and all of them restart.",
    "Had to wear a sweater in the {room} {ago}.",
];
const ISSUE_CLOSERS_EN: &[&str] = &[
    "So annoying.",
    "Unacceptable.",
    "Really annoying.",
    "Please roll this back!",
    "Please fix this ASAP.",
    "This is ridiculous.",
    "Not acceptable for a heating device in winter.",
    "Very disappointed.",
    "😡",
    "🥶",
    "Any ideas?",
    "Anyone else?",
    "Fix it, Acme!",
    "Cold house, angry family.",
    "Worst update so far.",
    "Terrible.",
];
const ISSUE_EN_PARTS: Parts = Parts {
    opener_chance: 0.45,
    openers: ISSUE_OPENERS_EN,
    tone_openers: [&[], &[], &[]],
    detail_chance: 0.75,
    second_detail_chance: 0.3,
    details: ISSUE_DETAILS_EN,
    tone_details: [&[], &[], &[]],
    closer_chance: 0.75,
    closers: [ISSUE_CLOSERS_EN, ISSUE_CLOSERS_EN, ISSUE_CLOSERS_EN],
};

const ISSUE_OPENERS_DE: &[&str] = &[
    "Update: ",
    "Achtung: ",
    "Warnung: ",
    "Liebe Acme! ",
    "Hilfe! ",
    "Seit {weekday}: ",
    "Mal ehrlich: ",
    "Echt jetzt, Acme? ",
    "@AcmeHome ",
    "Tag {n}: ",
    "Schon wieder. ",
    "Nervig: ",
    "Mir reicht's. ",
    "Super, ganz toll. ",
];
const ISSUE_DETAILS_DE: &[&str] = &[
    "Das passiert jede Nacht {clock}.",
    "Heute Morgen war das {room} eiskalt.",
    "Seit {dur} eine kalte Wohnung.",
    "Schon {count} Werksresets gemacht, nichts hilft.",
    "Der Support vertröstet mich seit {dur}.",
    "Das Display wird schwarz, dann kommt das Acme-Logo und das WLAN ist wieder weg.",
    "Heute schon {count} Neustarts gezählt.",
    "Mein Modell: {model}.",
    "Der Router ist in Ordnung, alle anderen Geräte bleiben im WLAN.",
    "Vor dem Update lief alles perfekt.",
    "Ich stelle {temp} Grad ein, nach jedem Neustart ist das wieder weg.",
    "Angefangen hat es {ago}, direkt nach dem Update.",
    "Die App zeigt es {count}-mal am Tag offline.",
    "Wir haben {count} Stück und alle starten neu.",
    "Musste {ago} im {room} mit Pulli sitzen.",
];
const ISSUE_CLOSERS_DE: &[&str] = &[
    "Nervt total.",
    "Echt ärgerlich.",
    "Unzumutbar.",
    "Bitte beheben!",
    "Bitte schnell fixen!",
    "So nicht, Acme.",
    "Sehr enttäuschend.",
    "😡",
    "🥶",
    "Hat jemand eine Lösung?",
    "Geht's noch anderen so?",
    "Im Winter ein Unding.",
    "Kalte Wohnung, genervte Familie.",
    "Schlechtestes Update bisher.",
    "Furchtbar.",
];
const ISSUE_DE_PARTS: Parts = Parts {
    opener_chance: 0.45,
    openers: ISSUE_OPENERS_DE,
    tone_openers: [&[], &[], &[]],
    detail_chance: 0.75,
    second_detail_chance: 0.3,
    details: ISSUE_DETAILS_DE,
    tone_details: [&[], &[], &[]],
    closer_chance: 0.75,
    closers: [ISSUE_CLOSERS_DE, ISSUE_CLOSERS_DE, ISSUE_CLOSERS_DE],
};

const PHONES: &[&str] = &[
    "iPhone 15",
    "iPhone 14 Pro",
    "iPhone 13",
    "iPhone SE",
    "Pixel 8",
    "Pixel 7a",
    "Galaxy S23",
    "Galaxy S21",
    "Galaxy A54",
    "OnePlus 11",
    "Xiaomi 13",
    "Fairphone 5",
    "iPad",
];
const ROOMS_EN: &[&str] = &[
    "living room",
    "bedroom",
    "kids' room",
    "home office",
    "bathroom",
    "kitchen",
    "guest room",
    "dining room",
    "hallway",
    "attic room",
];
/// All neuter, so that `das {room}` and `im {room}` stay grammatical.
const ROOMS_DE: &[&str] = &[
    "Wohnzimmer",
    "Schlafzimmer",
    "Kinderzimmer",
    "Arbeitszimmer",
    "Bad",
    "Gästezimmer",
    "Esszimmer",
    "Badezimmer",
    "Büro",
    "Dachgeschoss",
];
const CITIES_EN: &[&str] = &[
    "Berlin",
    "Munich",
    "Hamburg",
    "Cologne",
    "Frankfurt",
    "Leipzig",
    "Vienna",
    "Zurich",
    "London",
    "Manchester",
];
const CITIES_DE: &[&str] = &[
    "Berlin",
    "München",
    "Hamburg",
    "Köln",
    "Frankfurt",
    "Leipzig",
    "Wien",
    "Zürich",
    "Stuttgart",
    "Dresden",
];
const MODELS: &[&str] = &[
    "Acme T3",
    "Acme T3 Pro",
    "Acme T4",
    "Acme T4 Mini",
    "Acme T5",
    "Acme T5 Pro",
    "Acme Eco",
    "Acme Eco Plus",
];
const WEEKDAYS_EN: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEKDAYS_DE: &[&str] = &[
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];
const FEATURES_EN: &[&str] = &[
    "the schedule",
    "the energy report",
    "the vacation mode",
    "the room overview",
    "the settings",
];
const FEATURES_DE: &[&str] = &[
    "den Zeitplan",
    "den Energiebericht",
    "den Urlaubsmodus",
    "die Raumübersicht",
    "die Einstellungen",
];
const PRICES_EN: &[&str] = &["4.99", "5.99", "6.99", "7.99", "9.99"];
const PRICES_DE: &[&str] = &["4,99", "5,99", "6,99", "7,99", "9,99"];
const TEAMS_EN: &[&str] = &[
    "Engineering",
    "Sales",
    "Customer Care",
    "Logistics",
    "Marketing",
    "Finance",
];
const TEAMS_DE: &[&str] = &[
    "Engineering",
    "Vertrieb",
    "Kundenservice",
    "Logistik",
    "Marketing",
    "Finanzen",
];

/// The team of each employee (metadata in `feedback360.jsonl`), indexed like [`TEAMS_EN`].
const TEAM_KEYS: &[&str] = &[
    "engineering",
    "sales",
    "customer_care",
    "logistics",
    "marketing",
    "finance",
];

const SPAM_TEMPLATE: &str =
    "Get {n}% off smart thermostats at hotdeals-outlet.biz, code {code} {punct}{emoji}";
const SPAM_PUNCT: &[&str] = &["!!!", "!!", "!", "!!!!", "!!1", "?!"];
const SPAM_EMOJI: &[&str] = &["", " 🔥", " 💥", " 👉", " ✅", " 😱", " 🔥🔥"];

const FLOOD_TEXT: &str = "Boycott Acme until they bring back the free plan! Copy and share this!";

const BLIP_WORD: &str = "zorblax";
const BLIP_TEXTS: &[&str] = &[
    "Has anyone tried the zorblax mode in the beta? Curious how it works.",
    "Zorblax mode turned on by itself tonight, what is that?",
    "Saw a setting called zorblax in the Acme Home app, any idea what it does?",
    "Is zorblax a new feature? Can't find anything about it.",
    "zorblax?? weird new option in the thermostat menu",
];

/// Size of the customer author pool (`u0001`..`u3000`) and of the employee pool (`u6001`..).
const CUSTOMER_POOL: u32 = 3000;
const EMPLOYEE_POOL: u32 = 400;
const EMPLOYEE_ID_BASE: u32 = 6000;
/// New one-off authors of the planted issue are numbered from here.
const NEW_AUTHOR_ID_BASE: u32 = 10_000;
const SPAM_AUTHOR: &str = "u9000";

/// Daily cycle shared by all streams: `1 + amplitude * cos(2 pi (h - peak) / 24)`.
const DAILY_AMPLITUDE: f64 = 0.6;
const SECONDS_PER_DAY: i64 = 86_400;

/// fills one `{slot}` of a template
fn fill_slot(slot: &str, lang: Lang, rng: &mut Rng) -> String {
    let de = lang == Lang::De;
    let choose = |rng: &mut Rng, en: &[&str], de_list: &[&str]| -> String {
        if de {
            rng.pick(de_list).to_string()
        } else {
            rng.pick(en).to_string()
        }
    };
    match slot {
        "phone" => rng.pick(PHONES).to_string(),
        "model" => rng.pick(MODELS).to_string(),
        "room" => choose(rng, ROOMS_EN, ROOMS_DE),
        "city" => choose(rng, CITIES_EN, CITIES_DE),
        "weekday" => choose(rng, WEEKDAYS_EN, WEEKDAYS_DE),
        "feature" => choose(rng, FEATURES_EN, FEATURES_DE),
        "price" => choose(rng, PRICES_EN, PRICES_DE),
        "team" => choose(rng, TEAMS_EN, TEAMS_DE),
        "version" => format!("3.{}.{}", rng.range(5, 9), rng.range(0, 4)),
        "temp" => rng.range(19, 23).to_string(),
        "pct" => (rng.range(2, 6) * 5).to_string(),
        "n" => rng.range(2, 9).to_string(),
        "count" => rng.range(2, 9).to_string(),
        "days" => rng.range(3, 14).to_string(),
        "mins" => (rng.range(2, 8) * 5).to_string(),
        "hours" => rng.range(8, 30).to_string(),
        "months" => rng.range(2, 24).to_string(),
        "years" => rng.range(2, 12).to_string(),
        "teamsize" => rng.range(4, 14).to_string(),
        "officedays" => rng.range(2, 4).to_string(),
        // A duration; German in the dative, to follow `seit` or `vor`.
        "dur" => match (rng.below(4), de) {
            (0, false) => format!("{} days", rng.range(2, 20)),
            (0, true) => format!("{} Tagen", rng.range(2, 20)),
            (1, false) => format!("{} weeks", rng.range(2, 6)),
            (1, true) => format!("{} Wochen", rng.range(2, 6)),
            (2, false) => rng
                .pick(&[
                    "a week",
                    "about a month",
                    "a few days",
                    "two weeks",
                    "over a month",
                ])
                .to_string(),
            (2, true) => rng
                .pick(&[
                    "einer Woche",
                    "gut einem Monat",
                    "ein paar Tagen",
                    "zwei Wochen",
                    "über einem Monat",
                ])
                .to_string(),
            (_, false) => format!("{} months", rng.range(2, 5)),
            (_, true) => format!("{} Monaten", rng.range(2, 5)),
        },
        // A point in the past.
        "ago" => match (rng.below(4), de) {
            (0, false) => format!("on {}", rng.pick(WEEKDAYS_EN)),
            (0, true) => format!("am {}", rng.pick(WEEKDAYS_DE)),
            (1, false) => format!("{} days ago", rng.range(2, 12)),
            (1, true) => format!("vor {} Tagen", rng.range(2, 12)),
            (_, false) => rng
                .pick(&[
                    "yesterday",
                    "last week",
                    "this morning",
                    "last night",
                    "the day before yesterday",
                ])
                .to_string(),
            (_, true) => rng
                .pick(&[
                    "gestern",
                    "letzte Woche",
                    "heute früh",
                    "gestern Abend",
                    "vorgestern",
                ])
                .to_string(),
        },
        // A time of day.
        "clock" => {
            let minutes = rng.range(0, 11) * 5;
            match (rng.below(3), de) {
                (0, false) => format!("around {}am", rng.range(1, 11)),
                (0, true) => format!("gegen {} Uhr", rng.range(1, 11)),
                (1, false) => format!("around {}pm", rng.range(1, 11)),
                (1, true) => format!("kurz nach {} Uhr", rng.range(13, 23)),
                (_, false) => format!("at {}:{minutes:02}", rng.range(1, 12)),
                (_, true) => format!("um {}:{minutes:02} Uhr", rng.range(0, 23)),
            }
        }
        other => {
            debug_assert!(false, "unknown slot {other}");
            String::new()
        }
    }
}

/// Replaces every `{slot}` in `template`. Braces are ASCII, so splitting on them is char-safe.
fn fill_template(template: &str, lang: Lang, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some((before, after_open)) = rest.split_once('{') {
        out.push_str(before);
        match after_open.split_once('}') {
            Some((slot, after_close)) => {
                out.push_str(&fill_slot(slot, lang, rng));
                rest = after_close;
            }
            None => {
                out.push('{');
                rest = after_open;
            }
        }
    }
    out.push_str(rest);
    out
}

fn tone_index(tone: Tone) -> usize {
    match tone {
        Tone::Pos => 0,
        Tone::Neu => 1,
        Tone::Neg => 2,
    }
}

/// A full comment text: `[opener] core [detail [detail]] [closer]`, each part drawn on its own
/// from `parts` (openers, details and closers matching the tone) and every slot filled.
fn compose(template: &str, tone: Tone, lang: Lang, parts: &Parts, rng: &mut Rng) -> String {
    let tone = tone_index(tone);
    let with_opener = rng.chance(parts.opener_chance);
    let with_closer = rng.chance(parts.closer_chance);
    // A bare core would repeat too often, so a text without opener and closer always has a detail.
    let with_detail = rng.chance(parts.detail_chance) || !(with_opener || with_closer);
    let mut text = String::with_capacity(template.len() + 96);
    if with_opener {
        let opener = pick_either(rng, parts.openers, parts.tone_openers[tone]);
        text.push_str(&fill_template(opener, lang, rng));
    }
    text.push_str(&fill_template(template, lang, rng));
    if with_detail {
        let first = pick_either(rng, parts.details, parts.tone_details[tone]);
        text.push(' ');
        text.push_str(&fill_template(first, lang, rng));
        if rng.chance(parts.second_detail_chance) {
            let second = pick_either(rng, parts.details, parts.tone_details[tone]);
            if second != first {
                text.push(' ');
                text.push_str(&fill_template(second, lang, rng));
            }
        }
    }
    if with_closer {
        text.push(' ');
        let closer = rng.pick(parts.closers[tone]);
        text.push_str(&fill_template(closer, lang, rng));
    }
    text
}

/// The parts around background texts of `domain` in `lang`.
fn background_parts(domain: Domain, lang: Lang) -> &'static Parts {
    match (domain, lang) {
        (Domain::Product, Lang::En) => &PRODUCT_EN,
        (Domain::Product, Lang::De) => &PRODUCT_DE,
        (Domain::Workplace, Lang::En) => &WORK_EN,
        (Domain::Workplace, Lang::De) => &WORK_DE,
    }
}
/// Star rating that roughly agrees with the tone (5 % of reviewers rate at random).
fn stars_for(tone: Tone, rng: &mut Rng) -> u8 {
    if rng.chance(0.05) {
        return rng.range(1, 5) as u8;
    }
    match tone {
        Tone::Pos => {
            if rng.chance(0.65) {
                5
            } else {
                4
            }
        }
        Tone::Neu => rng.pick(&[2, 3, 3, 3, 4]),
        Tone::Neg => {
            if rng.chance(0.6) {
                1
            } else {
                2
            }
        }
    }
}

// ---------------------------------------------------------------- authors

/// A pool of author ids with Zipf-like activity (`rank^-exponent`) and a fixed language per author.
struct AuthorPool {
    /// Author number by activity rank (rank 0 = most active); a seeded shuffle of the id range.
    ids_by_rank: Vec<u32>,
    cumulative: Vec<f64>,
}

impl AuthorPool {
    fn new(first_id: u32, size: u32, exponent: f64, rng: &mut Rng) -> AuthorPool {
        let mut ids_by_rank: Vec<u32> = (first_id..first_id + size).collect();
        rng.shuffle(&mut ids_by_rank);
        let mut total = 0.0;
        let cumulative = (0..size)
            .map(|rank| {
                total += f64::from(rank + 1).powf(-exponent);
                total
            })
            .collect();
        AuthorPool {
            ids_by_rank,
            cumulative,
        }
    }

    /// A Zipf-weighted rank.
    fn draw_rank(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c <= target)
            .min(self.ids_by_rank.len() - 1)
    }

    fn id(&self, rank: usize) -> u32 {
        self.ids_by_rank[rank]
    }

    /// Every author writes in one language: 3 ranks in 10 write German.
    fn lang(rank: usize) -> Lang {
        if matches!(rank % 10, 2 | 5 | 8) {
            Lang::De
        } else {
            Lang::En
        }
    }
}

fn author_name(number: u32) -> String {
    format!("u{number:04}")
}

// ---------------------------------------------------------------- time

/// Intensity shape over the timeline: mean rate per day, daily and weekly cycle.
struct Cycle {
    per_day: f64,
    peak_hour_utc: f64,
    /// Monday..Sunday; normalised to mean 1 on construction.
    weekday: [f64; 7],
}

impl Cycle {
    fn new(per_day: f64, peak_hour_utc: f64, weekday: [f64; 7]) -> Cycle {
        let mean = weekday.iter().sum::<f64>() / 7.0;
        Cycle {
            per_day,
            peak_hour_utc,
            weekday: weekday.map(|w| w / mean),
        }
    }

    fn max_per_day(&self) -> f64 {
        let max_weekday = self.weekday.iter().copied().fold(0.0, f64::max);
        self.per_day * (1.0 + DAILY_AMPLITUDE) * max_weekday
    }

    fn per_day_at(&self, unix_seconds: f64) -> f64 {
        let weekday =
            ((unix_seconds / SECONDS_PER_DAY as f64).floor() as i64 + 3).rem_euclid(7) as usize;
        self.per_day * daily_factor(unix_seconds, self.peak_hour_utc) * self.weekday[weekday]
    }
}

fn daily_factor(unix_seconds: f64, peak_hour_utc: f64) -> f64 {
    let hour = unix_seconds.rem_euclid(SECONDS_PER_DAY as f64) / 3600.0;
    1.0 + DAILY_AMPLITUDE * (std::f64::consts::TAU * (hour - peak_hour_utc) / 24.0).cos()
}

/// Arrival times (seconds after `start`, whole) of an inhomogeneous Poisson process on
/// `[from, to)` with intensity `per_day(unix_seconds)` bounded by `max_per_day`, sampled by thinning.
fn arrivals(
    rng: &mut Rng,
    start_unix: i64,
    from: i64,
    to: i64,
    max_per_day: f64,
    per_day: impl Fn(f64) -> f64,
) -> Vec<i64> {
    let mut times = Vec::new();
    if max_per_day <= 0.0 {
        return times;
    }
    let mean_gap = SECONDS_PER_DAY as f64 / max_per_day;
    let mut t = from as f64;
    loop {
        t += rng.exponential(mean_gap);
        if t >= to as f64 {
            break;
        }
        let unix = start_unix as f64 + t;
        if rng.unit() * max_per_day < per_day(unix) {
            times.push(t.floor() as i64);
        }
    }
    times
}

fn rfc3339(unix_seconds: i64) -> String {
    Utc.timestamp_opt(unix_seconds, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- the corpus in memory

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Background,
    Event,
    Noise(usize),
}

#[derive(Clone, Debug)]
struct Comment {
    /// Assigned after sorting each file by time.
    id: String,
    /// Seconds after the start of the timeline.
    offset: i64,
    text: String,
    author: String,
    channel: Channel,
    lang: Lang,
    tone: Tone,
    stars: Option<u8>,
    team: Option<&'static str>,
    label: Label,
}

/// What a noise injection looks like in the truth file.
#[derive(Clone, Debug)]
struct NoisePlan {
    name: &'static str,
    kind: &'static str,
    start: i64,
    end: i64,
    author: Option<String>,
    template: Option<&'static str>,
    text: Option<&'static str>,
    word: Option<&'static str>,
}

/// Timing of the planted slow burn (offsets in seconds after the start).
#[derive(Clone, Debug)]
struct EventPlan {
    onset: i64,
    peak: i64,
    end: i64,
    start_per_day: f64,
    plateau_per_day: f64,
    growth_ratio: f64,
    rise_days: u32,
    plateau_days: u32,
}

const EVENT_NAME: &str = "thermostat_firmware_4_2_reboots";

struct Corpus {
    start_unix: i64,
    days: u32,
    /// Good comments of the three main files, each file sorted by time, ids assigned.
    comments: Vec<Comment>,
    event: EventPlan,
    noise: Vec<NoisePlan>,
    /// `bad_rows.jsonl`: raw lines, and the good comments among them.
    bad_jsonl_lines: Vec<String>,
    bad_jsonl_good: Vec<Comment>,
    /// `bad_rows.csv`: the whole file, and the good comments in it.
    bad_csv: Vec<u8>,
    bad_csv_good: Vec<Comment>,
}

fn build_corpus(args: &Args) -> anyhow::Result<Corpus> {
    if !(10.0..=2000.0).contains(&args.rate_per_day) {
        bail!("--rate-per-day must be between 10 and 2000");
    }
    let start_unix = args.start.timestamp();
    let span = i64::from(args.days) * SECONDS_PER_DAY;
    let scale = args.rate_per_day / 150.0;

    let mut pool_rng = Rng::for_component(args.seed, "authors");
    let customers = AuthorPool::new(1, CUSTOMER_POOL, 0.7, &mut pool_rng);
    let employees = AuthorPool::new(EMPLOYEE_ID_BASE + 1, EMPLOYEE_POOL, 0.5, &mut pool_rng);

    let mut comments = background(args, start_unix, span, &customers, &employees);
    let event = plan_event(args, span, scale);
    comments.extend(planted_issue(args, start_unix, &event, &customers));
    let mut noise = Vec::new();
    comments.extend(spam(args, span, scale, &mut noise));
    comments.extend(duplicate_flood(args, span, scale, &customers, &mut noise));
    comments.extend(rare_blip(args, span, &customers, &mut noise));
    assign_ids(&mut comments);

    let (bad_jsonl_lines, bad_jsonl_good) = bad_rows_jsonl(args, start_unix, span, &customers)?;
    let (bad_csv, bad_csv_good) = bad_rows_csv(args, start_unix, span, &customers)?;
    Ok(Corpus {
        start_unix,
        days: args.days,
        comments,
        event,
        noise,
        bad_jsonl_lines,
        bad_jsonl_good,
        bad_csv,
        bad_csv_good,
    })
}

/// Sorts by (file, time, insertion order) and numbers each file's rows `r000001`, `s000001`, `f000001`.
fn assign_ids(comments: &mut [Comment]) {
    // The sort is stable, so equal times keep their (deterministic) generation order.
    comments.sort_by_key(|c| (c.channel.file(), c.offset));
    let mut counters: BTreeMap<FileKind, u32> = BTreeMap::new();
    for comment in comments.iter_mut() {
        let kind = comment.channel.file();
        let counter = counters.entry(kind).or_insert(0);
        *counter += 1;
        comment.id = format!("{}{:06}", kind.id_prefix(), counter);
    }
}

/// One background comment by a pool author on a subject of `domain`, at `offset`.
fn background_comment(
    rng: &mut Rng,
    domain: Domain,
    offset: i64,
    customers: &AuthorPool,
    employees: &AuthorPool,
) -> Comment {
    let subjects: Vec<&Subject> = SUBJECTS.iter().filter(|s| s.domain == domain).collect();
    let total_weight: f64 = subjects.iter().map(|s| s.weight).sum();
    let mut target = rng.unit() * total_weight;
    let mut subject = subjects[subjects.len() - 1];
    for candidate in &subjects {
        if target < candidate.weight {
            subject = candidate;
            break;
        }
        target -= candidate.weight;
    }
    let pool = match domain {
        Domain::Product => customers,
        Domain::Workplace => employees,
    };
    let rank = pool.draw_rank(rng);
    let author_number = pool.id(rank);
    let lang = AuthorPool::lang(rank);
    let templates = match lang {
        Lang::En => subject.en,
        Lang::De => subject.de,
    };
    let (tone, template) = rng.pick(templates);
    let text = compose(template, tone, lang, background_parts(domain, lang), rng);
    let channel = rng.pick(subject.channels);
    let stars = (channel.file() == FileKind::Reviews).then(|| stars_for(tone, rng));
    let team = (domain == Domain::Workplace)
        .then(|| TEAM_KEYS[(author_number as usize * 7 + 3) % TEAM_KEYS.len()]);
    Comment {
        id: String::new(),
        offset,
        text,
        author: author_name(author_number),
        channel,
        lang,
        tone,
        stars,
        team,
        label: Label::Background,
    }
}

/// Customer chatter (80 %, evenings and weekends busy) and employee feedback (20 %, office hours).
fn background(
    args: &Args,
    start_unix: i64,
    span: i64,
    customers: &AuthorPool,
    employees: &AuthorPool,
) -> Vec<Comment> {
    let mut rng = Rng::for_component(args.seed, "background");
    let product = Cycle::new(
        args.rate_per_day * 0.8,
        16.0,
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.8],
    );
    let workplace = Cycle::new(
        args.rate_per_day * 0.2,
        11.0,
        [1.0, 1.0, 1.0, 1.0, 0.9, 0.15, 0.1],
    );
    let mut comments = Vec::new();
    for (domain, cycle) in [(Domain::Product, &product), (Domain::Workplace, &workplace)] {
        let times = arrivals(&mut rng, start_unix, 0, span, cycle.max_per_day(), |t| {
            cycle.per_day_at(t)
        });
        for offset in times {
            comments.push(background_comment(
                &mut rng, domain, offset, customers, employees,
            ));
        }
    }
    comments
}

fn plan_event(args: &Args, span: i64, scale: f64) -> EventPlan {
    let days = args.days;
    let onset_day = (f64::from(days) * 38.0 / 60.0).round() as u32;
    let rise_days = ((f64::from(days) * 12.0 / 60.0).round() as u32).max(5);
    let plateau_days = days - onset_day - rise_days;
    let plateau_per_day = (40.0 * scale).max(8.0);
    let growth_ratio = 20.0;
    let onset = i64::from(onset_day) * SECONDS_PER_DAY;
    EventPlan {
        onset,
        peak: onset + i64::from(rise_days) * SECONDS_PER_DAY,
        end: span,
        start_per_day: plateau_per_day / growth_ratio,
        plateau_per_day,
        growth_ratio,
        rise_days,
        plateau_days,
    }
}

/// The slow burn: exponential growth from `start_per_day` to `plateau_per_day` over `rise_days`,
/// then a plateau to the end; mostly new authors, English and German, reviews and social.
fn planted_issue(
    args: &Args,
    start_unix: i64,
    plan: &EventPlan,
    customers: &AuthorPool,
) -> Vec<Comment> {
    let mut rng = Rng::for_component(args.seed, "event");
    let rise_seconds = f64::from(plan.rise_days) * SECONDS_PER_DAY as f64;
    let intensity = |unix: f64| {
        let since_onset = unix - (start_unix + plan.onset) as f64;
        let base = if since_onset < rise_seconds {
            plan.plateau_per_day * plan.growth_ratio.powf(since_onset / rise_seconds - 1.0)
        } else {
            plan.plateau_per_day
        };
        base * daily_factor(unix, 17.0)
    };
    let times = arrivals(
        &mut rng,
        start_unix,
        plan.onset,
        plan.end,
        plan.plateau_per_day * (1.0 + DAILY_AMPLITUDE),
        intensity,
    );
    let channels = [
        Channel::AppStore,
        Channel::PlayStore,
        Channel::WebShop,
        Channel::Twitter,
        Channel::Twitter,
        Channel::Forum,
    ];
    let mut next_new_author = NEW_AUTHOR_ID_BASE;
    let mut comments = Vec::with_capacity(times.len());
    for offset in times {
        let (author, lang) = if rng.chance(0.75) {
            next_new_author += 1;
            let lang = if rng.chance(0.35) { Lang::De } else { Lang::En };
            (author_name(next_new_author), lang)
        } else {
            // Existing customers, drawn uniformly so that nobody dominates the event.
            let rank = rng.below(CUSTOMER_POOL as usize);
            (author_name(customers.id(rank)), AuthorPool::lang(rank))
        };
        let (templates, parts) = match lang {
            Lang::En => (ISSUE_EN, &ISSUE_EN_PARTS),
            Lang::De => (ISSUE_DE, &ISSUE_DE_PARTS),
        };
        let (tone, template) = rng.pick(templates);
        let text = compose(template, tone, lang, parts, &mut rng);
        let channel = rng.pick(&channels);
        let stars = (channel.file() == FileKind::Reviews).then(|| stars_for(tone, &mut rng));
        comments.push(Comment {
            id: String::new(),
            offset,
            text,
            author,
            channel,
            lang,
            tone,
            stars,
            team: None,
            label: Label::Event,
        });
    }
    comments
}

/// Offset of `hour` o'clock on day `fraction * days` of the timeline.
fn noise_start(args: &Args, fraction: f64, hour: i64) -> i64 {
    let day = (f64::from(args.days) * fraction).round() as i64;
    day * SECONDS_PER_DAY + hour * 3600
}

/// One new author posts one offer about 300 times within 3 hours, varying number, code, case,
/// punctuation and emoji.
fn spam(args: &Args, span: i64, scale: f64, noise: &mut Vec<NoisePlan>) -> Vec<Comment> {
    let mut rng = Rng::for_component(args.seed, "spam");
    let count = (300.0 * scale).round().max(60.0) as usize;
    let start = noise_start(args, 0.3, 13);
    let end = (start + 3 * 3600).min(span);
    let label = Label::Noise(noise.len());
    noise.push(NoisePlan {
        name: "spam_hotdeals",
        kind: "spam",
        start,
        end,
        author: Some(SPAM_AUTHOR.to_string()),
        template: Some(SPAM_TEMPLATE),
        text: None,
        word: None,
    });
    let mut comments: Vec<Comment> = (0..count)
        .map(|_| {
            let offset = start + rng.below((end - start) as usize) as i64;
            let percent = (rng.range(5, 16) * 5).to_string();
            let code = format!("SAVE{}", rng.range(100, 999));
            let punct = rng.pick(SPAM_PUNCT);
            let emoji = rng.pick(SPAM_EMOJI);
            let text = SPAM_TEMPLATE
                .replace("{n}", &percent)
                .replace("{code}", &code)
                .replace("{punct}", punct)
                .replace("{emoji}", emoji);
            let text = match rng.below(4) {
                0 => text.to_uppercase(),
                1 => text.to_lowercase(),
                _ => text,
            };
            Comment {
                id: String::new(),
                offset,
                text,
                author: SPAM_AUTHOR.to_string(),
                channel: Channel::Twitter,
                lang: Lang::En,
                tone: Tone::Pos,
                stars: None,
                team: None,
                label,
            }
        })
        .collect();
    comments.sort_by_key(|c| c.offset);
    comments
}

/// One chain message copied by about 250 distinct existing authors within an hour, most early.
fn duplicate_flood(
    args: &Args,
    span: i64,
    scale: f64,
    customers: &AuthorPool,
    noise: &mut Vec<NoisePlan>,
) -> Vec<Comment> {
    let mut rng = Rng::for_component(args.seed, "duplicate_flood");
    let count = ((250.0 * scale).round().max(50.0) as usize).min(CUSTOMER_POOL as usize);
    let start = noise_start(args, 0.5, 18);
    let end = (start + 3600).min(span);
    let label = Label::Noise(noise.len());
    noise.push(NoisePlan {
        name: "flood_boycott",
        kind: "duplicate_flood",
        start,
        end,
        author: None,
        template: None,
        text: Some(FLOOD_TEXT),
        word: None,
    });
    let mut ranks: Vec<usize> = (0..CUSTOMER_POOL as usize).collect();
    rng.shuffle(&mut ranks);
    let window = (end - start) as f64;
    ranks
        .into_iter()
        .take(count)
        .map(|rank| {
            let delay = loop {
                let candidate = rng.exponential(window / 3.0);
                if candidate < window {
                    break candidate;
                }
            };
            let channel = if rng.chance(0.7) {
                Channel::Twitter
            } else {
                Channel::Forum
            };
            Comment {
                id: String::new(),
                offset: start + delay.floor() as i64,
                text: FLOOD_TEXT.to_string(),
                author: author_name(customers.id(rank)),
                channel,
                lang: Lang::En,
                tone: Tone::Neg,
                stars: None,
                team: None,
                label,
            }
        })
        .collect()
}

/// Five comments by distinct authors within an hour, all mentioning a word that occurs nowhere else.
fn rare_blip(
    args: &Args,
    span: i64,
    customers: &AuthorPool,
    noise: &mut Vec<NoisePlan>,
) -> Vec<Comment> {
    let mut rng = Rng::for_component(args.seed, "rare_blip");
    let start = noise_start(args, 0.8, 10);
    let end = (start + 3600).min(span);
    let label = Label::Noise(noise.len());
    noise.push(NoisePlan {
        name: "blip_zorblax",
        kind: "rare_blip",
        start,
        end,
        author: None,
        template: None,
        text: None,
        word: Some(BLIP_WORD),
    });
    let mut ranks: Vec<usize> = (0..CUSTOMER_POOL as usize).collect();
    rng.shuffle(&mut ranks);
    BLIP_TEXTS
        .iter()
        .zip(ranks)
        .map(|(text, rank)| Comment {
            id: String::new(),
            offset: start + rng.below((end - start) as usize) as i64,
            text: (*text).to_string(),
            author: author_name(customers.id(rank)),
            channel: if rng.chance(0.5) {
                Channel::Forum
            } else {
                Channel::Twitter
            },
            lang: Lang::En,
            tone: Tone::Neu,
            stars: None,
            team: None,
            label,
        })
        .collect()
}

// ---------------------------------------------------------------- bad rows

/// A few good product comments for the bad-row files, on the given channels.
fn good_rows(
    rng: &mut Rng,
    span: i64,
    customers: &AuthorPool,
    channels: &[Channel],
    id_prefix: &str,
    count: usize,
) -> Vec<Comment> {
    let mut rows: Vec<Comment> = (0..count)
        .map(|_| {
            let offset = rng.below(span as usize) as i64;
            let mut comment =
                background_comment(rng, Domain::Product, offset, customers, customers);
            comment.channel = rng.pick(channels);
            comment.stars =
                (comment.channel.file() == FileKind::Reviews).then(|| stars_for(comment.tone, rng));
            comment
        })
        .collect();
    rows.sort_by_key(|c| c.offset);
    for (index, row) in rows.iter_mut().enumerate() {
        row.id = format!("{id_prefix}{:04}", index + 1);
    }
    rows
}

/// `bad_rows.jsonl`: good rows mixed with malformed JSON, an empty text, an unparseable timestamp
/// and non-object lines.
fn bad_rows_jsonl(
    args: &Args,
    start_unix: i64,
    span: i64,
    customers: &AuthorPool,
) -> anyhow::Result<(Vec<String>, Vec<Comment>)> {
    let mut rng = Rng::for_component(args.seed, "bad_rows_jsonl");
    let good = good_rows(
        &mut rng,
        span,
        customers,
        &[Channel::Twitter, Channel::Forum],
        "bj",
        4,
    );
    let ts = rfc3339(start_unix + span / 2);
    let mut lines = Vec::new();
    lines.push(social_line(&good[0], start_unix)?);
    lines.push(format!(
        "{{\"id\": \"bj0101\", \"text\": \"The app is great, \"timestamp\": \"{ts}\", \"author\": \"u0042\""
    ));
    lines.push(social_line(&good[1], start_unix)?);
    lines.push(format!(
        "{{\"id\":\"bj0102\",\"text\":\"\",\"timestamp\":\"{ts}\",\"author\":\"u0043\",\"source\":\"twitter\",\"lang\":\"en\"}}"
    ));
    lines.push(
        "{\"id\":\"bj0103\",\"text\":\"Das Thermostat ist super leise.\",\"timestamp\":\"last tuesday\",\"author\":\"u0044\",\"source\":\"forum\",\"lang\":\"de\"}"
            .to_string(),
    );
    lines.push(social_line(&good[2], start_unix)?);
    lines.push("[\"bj0104\", \"an array is not a comment\"]".to_string());
    lines.push("42".to_string());
    lines.push(social_line(&good[3], start_unix)?);
    Ok((lines, good))
}

/// `bad_rows.csv`: good rows, an empty body, an unparseable timestamp, a row with too many fields,
/// and, last (an open quote swallows the rest of the file), a row with broken quoting.
fn bad_rows_csv(
    args: &Args,
    start_unix: i64,
    span: i64,
    customers: &AuthorPool,
) -> anyhow::Result<(Vec<u8>, Vec<Comment>)> {
    let mut rng = Rng::for_component(args.seed, "bad_rows_csv");
    let good = good_rows(
        &mut rng,
        span,
        customers,
        &[Channel::AppStore, Channel::PlayStore, Channel::WebShop],
        "bc",
        4,
    );
    let ts = rfc3339(start_unix + span / 3);
    let mut buffer = Vec::new();
    {
        let mut writer = csv::Writer::from_writer(&mut buffer);
        writer.write_record(REVIEW_HEADER)?;
        write_review(&mut writer, &good[0], start_unix)?;
        writer.flush()?;
    }
    let push_raw = |buffer: &mut Vec<u8>, line: String| {
        buffer.extend_from_slice(line.as_bytes());
        buffer.push(b'\n');
    };
    push_raw(&mut buffer, format!("bc0101,,{ts},u0051,appstore,en,3"));
    {
        let mut writer = csv::Writer::from_writer(&mut buffer);
        write_review(&mut writer, &good[1], start_unix)?;
        writer.flush()?;
    }
    push_raw(
        &mut buffer,
        "bc0102,\"Lieferung kam pünktlich, alles gut\",last tuesday,u0052,webshop,de,5".to_string(),
    );
    push_raw(
        &mut buffer,
        format!("bc0103,Great thermostat,{ts},u0053,playstore,en,5,extra,fields"),
    );
    {
        let mut writer = csv::Writer::from_writer(&mut buffer);
        write_review(&mut writer, &good[2], start_unix)?;
        write_review(&mut writer, &good[3], start_unix)?;
        writer.flush()?;
    }
    push_raw(
        &mut buffer,
        format!(
            "bc0104,\"The app is fine, but the \"\"eco mode is broken,{ts},u0054,appstore,en,2"
        ),
    );
    Ok((buffer, good))
}

// ---------------------------------------------------------------- writers

const REVIEW_HEADER: [&str; 7] = [
    "review_id",
    "body",
    "posted_at",
    "user",
    "channel",
    "language",
    "stars",
];

fn write_review<W: Write>(
    writer: &mut csv::Writer<W>,
    comment: &Comment,
    start_unix: i64,
) -> anyhow::Result<()> {
    let stars = comment.stars.map(|s| s.to_string()).unwrap_or_default();
    writer.write_record([
        comment.id.as_str(),
        comment.text.as_str(),
        rfc3339(start_unix + comment.offset).as_str(),
        comment.author.as_str(),
        comment.channel.name(),
        comment.lang.code(),
        stars.as_str(),
    ])?;
    Ok(())
}

/// One JSONL row in the default layout; struct order fixes the key order.
#[derive(Serialize)]
struct JsonRow<'a> {
    id: &'a str,
    text: &'a str,
    timestamp: String,
    author: &'a str,
    source: &'a str,
    lang: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
}

fn json_row(comment: &Comment, start_unix: i64, with_team: bool) -> JsonRow<'_> {
    JsonRow {
        id: &comment.id,
        text: &comment.text,
        timestamp: rfc3339(start_unix + comment.offset),
        author: &comment.author,
        source: comment.channel.name(),
        lang: comment.lang.code(),
        team: if with_team { comment.team } else { None },
    }
}

fn social_line(comment: &Comment, start_unix: i64) -> anyhow::Result<String> {
    Ok(serde_json::to_string(&json_row(comment, start_unix, true))?)
}

fn write_jsonl<'a>(
    path: &Path,
    comments: impl Iterator<Item = &'a Comment>,
    start_unix: i64,
    with_team: bool,
) -> anyhow::Result<usize> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut rows = 0;
    for comment in comments {
        serde_json::to_writer(&mut out, &json_row(comment, start_unix, with_team))?;
        out.write_all(b"\n")?;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

fn write_reviews(path: &Path, corpus: &Corpus) -> anyhow::Result<usize> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = csv::Writer::from_writer(BufWriter::new(file));
    writer.write_record(REVIEW_HEADER)?;
    let mut rows = 0;
    for comment in corpus
        .comments
        .iter()
        .filter(|c| c.channel.file() == FileKind::Reviews)
    {
        write_review(&mut writer, comment, corpus.start_unix)?;
        rows += 1;
    }
    writer.flush()?;
    Ok(rows)
}

#[derive(Serialize)]
struct TruthEvent<'a> {
    name: &'a str,
    kind: &'a str,
    onset: String,
    peak: String,
    end: String,
    n_comments: usize,
    ids: Vec<&'a str>,
    shape: &'a str,
    params: serde_json::Value,
    first_comment: Option<String>,
    last_comment: Option<String>,
    distinct_authors: usize,
    langs: BTreeMap<&'a str, usize>,
}

#[derive(Serialize)]
struct TruthNoise<'a> {
    name: &'a str,
    kind: &'a str,
    start: String,
    end: String,
    n_comments: usize,
    ids: Vec<&'a str>,
    distinct_authors: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    word: Option<&'a str>,
}

/// The trendbench truth file; struct order fixes the key order.
#[derive(Serialize)]
struct Truth<'a> {
    events: Vec<TruthEvent<'a>>,
    noise: Vec<TruthNoise<'a>>,
    background_ids_count: usize,
    stream_rows: usize,
    timeline: Timeline,
    generator: &'static str,
}

#[derive(Serialize)]
struct Timeline {
    start: String,
    end: String,
    days: u32,
}

/// All good comments (main files and the good rows of the bad-row files) in stream order.
fn stream_order(corpus: &Corpus) -> Vec<&Comment> {
    let mut all: Vec<&Comment> = corpus
        .comments
        .iter()
        .chain(&corpus.bad_jsonl_good)
        .chain(&corpus.bad_csv_good)
        .collect();
    all.sort_by(|a, b| (a.offset, &a.id).cmp(&(b.offset, &b.id)));
    all
}

fn truth_json<'a>(corpus: &'a Corpus, stream: &[&'a Comment]) -> Truth<'a> {
    let ts = |offset: i64| rfc3339(corpus.start_unix + offset);
    let event_comments: Vec<&Comment> = stream
        .iter()
        .copied()
        .filter(|c| c.label == Label::Event)
        .collect();
    let mut langs = BTreeMap::new();
    for comment in &event_comments {
        *langs.entry(comment.lang.code()).or_insert(0) += 1;
    }
    let plan = &corpus.event;
    let event = TruthEvent {
        name: EVENT_NAME,
        kind: "event",
        onset: ts(plan.onset),
        peak: ts(plan.peak),
        end: ts(plan.end),
        n_comments: event_comments.len(),
        ids: event_comments.iter().map(|c| c.id.as_str()).collect(),
        shape: "slow_burn",
        params: serde_json::json!({
            "growth": "exponential",
            "growth_ratio": plan.growth_ratio,
            "rise_days": plan.rise_days,
            "plateau_days": plan.plateau_days,
            "start_per_day": plan.start_per_day,
            "plateau_per_day": plan.plateau_per_day,
        }),
        first_comment: event_comments.first().map(|c| ts(c.offset)),
        last_comment: event_comments.last().map(|c| ts(c.offset)),
        distinct_authors: distinct_authors(&event_comments),
        langs,
    };
    let noise: Vec<TruthNoise> = corpus
        .noise
        .iter()
        .enumerate()
        .map(|(index, plan)| {
            let members: Vec<&Comment> = stream
                .iter()
                .copied()
                .filter(|c| c.label == Label::Noise(index))
                .collect();
            TruthNoise {
                name: plan.name,
                kind: plan.kind,
                start: ts(plan.start),
                end: ts(plan.end),
                n_comments: members.len(),
                ids: members.iter().map(|c| c.id.as_str()).collect(),
                distinct_authors: distinct_authors(&members),
                author: plan.author.as_deref(),
                template: plan.template,
                text: plan.text,
                word: plan.word,
            }
        })
        .collect();
    let labelled = event.n_comments + noise.iter().map(|n| n.n_comments).sum::<usize>();
    Truth {
        events: vec![event],
        noise,
        background_ids_count: stream.len() - labelled,
        stream_rows: stream.len(),
        timeline: Timeline {
            start: ts(0),
            end: ts(i64::from(corpus.days) * SECONDS_PER_DAY),
            days: corpus.days,
        },
        generator: concat!("xsignal-corpus ", env!("CARGO_PKG_VERSION")),
    }
}

fn distinct_authors(comments: &[&Comment]) -> usize {
    comments
        .iter()
        .map(|c| c.author.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

/// Row counts of the written files, for the summary.
#[derive(Debug, Default)]
struct Written {
    reviews: usize,
    social: usize,
    feedback: usize,
    bad_jsonl_lines: usize,
    bad_csv_lines: usize,
    stream: usize,
}

fn write_corpus(corpus: &Corpus, out: &Path) -> anyhow::Result<Written> {
    let score_dir = out.join("score");
    fs::create_dir_all(&score_dir)
        .with_context(|| format!("cannot create {}", score_dir.display()))?;
    let start_unix = corpus.start_unix;
    let of_kind = |kind: FileKind| {
        corpus
            .comments
            .iter()
            .filter(move |c| c.channel.file() == kind)
    };

    let mut written = Written {
        reviews: write_reviews(&out.join("reviews.csv"), corpus)?,
        social: write_jsonl(
            &out.join("social.jsonl"),
            of_kind(FileKind::Social),
            start_unix,
            false,
        )?,
        feedback: write_jsonl(
            &out.join("feedback360.jsonl"),
            of_kind(FileKind::Feedback),
            start_unix,
            true,
        )?,
        ..Written::default()
    };

    let mut bad_jsonl = corpus.bad_jsonl_lines.join("\n");
    bad_jsonl.push('\n');
    fs::write(out.join("bad_rows.jsonl"), bad_jsonl)?;
    written.bad_jsonl_lines = corpus.bad_jsonl_lines.len();
    fs::write(out.join("bad_rows.csv"), &corpus.bad_csv)?;
    written.bad_csv_lines = corpus.bad_csv.iter().filter(|&&b| b == b'\n').count();

    let stream = stream_order(corpus);
    written.stream = write_jsonl(
        &score_dir.join("stream.jsonl"),
        stream.iter().copied(),
        start_unix,
        false,
    )?;
    let truth = truth_json(corpus, &stream);
    let mut truth_text = serde_json::to_string_pretty(&truth)?;
    truth_text.push('\n');
    fs::write(score_dir.join("truth.json"), truth_text)?;
    Ok(written)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let corpus = build_corpus(&args)?;
    let written = write_corpus(&corpus, &args.out)?;
    let count = |label: Label| corpus.comments.iter().filter(|c| c.label == label).count();
    let event_comments: Vec<&Comment> = corpus
        .comments
        .iter()
        .filter(|c| c.label == Label::Event)
        .collect();
    eprintln!("xsignal-corpus: wrote {}", args.out.display());
    eprintln!("  reviews.csv        {:>6} rows", written.reviews);
    eprintln!("  social.jsonl       {:>6} rows", written.social);
    eprintln!("  feedback360.jsonl  {:>6} rows", written.feedback);
    eprintln!(
        "  bad_rows.jsonl     {:>6} lines ({} good)",
        written.bad_jsonl_lines,
        corpus.bad_jsonl_good.len()
    );
    eprintln!(
        "  bad_rows.csv       {:>6} lines incl. header ({} good)",
        written.bad_csv_lines,
        corpus.bad_csv_good.len()
    );
    eprintln!(
        "  score/stream.jsonl {:>6} rows (all good comments), score/truth.json",
        written.stream
    );
    eprintln!(
        "  event {EVENT_NAME}: {} comments by {} authors from {}",
        event_comments.len(),
        distinct_authors(&event_comments),
        rfc3339(corpus.start_unix + corpus.event.onset)
    );
    for (index, plan) in corpus.noise.iter().enumerate() {
        eprintln!(
            "  noise {} ({}): {} comments from {}",
            plan.name,
            plan.kind,
            count(Label::Noise(index)),
            rfc3339(corpus.start_unix + plan.start)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xsignal::text::normalize_for_dedup;

    fn small_args(out: PathBuf) -> Args {
        Args::parse_from([
            "xsignal-corpus",
            "--days",
            "30",
            "--rate-per-day",
            "40",
            "--out",
            out.to_str().unwrap_or("unused"),
        ])
    }

    fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let names = [
            "reviews.csv",
            "social.jsonl",
            "feedback360.jsonl",
            "bad_rows.jsonl",
            "bad_rows.csv",
            "score/stream.jsonl",
            "score/truth.json",
        ];
        names
            .iter()
            .map(|name| {
                (
                    name.to_string(),
                    fs::read(dir.join(name)).expect("output file"),
                )
            })
            .collect()
    }

    #[test]
    fn same_flags_give_byte_identical_files_and_another_seed_differs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = tmp.path().join("a");
        let second = tmp.path().join("b");
        let third = tmp.path().join("c");
        for dir in [&first, &second] {
            let corpus = build_corpus(&small_args(dir.clone())).expect("build");
            write_corpus(&corpus, dir).expect("write");
        }
        assert_eq!(read_all(&first), read_all(&second));
        let mut other_seed = small_args(third.clone());
        other_seed.seed = 8;
        write_corpus(&build_corpus(&other_seed).expect("build"), &third).expect("write");
        assert_ne!(read_all(&first)[0], read_all(&third)[0]);
    }

    #[test]
    fn ids_are_unique_across_files_and_the_event_scales_down() {
        let corpus = build_corpus(&small_args(PathBuf::from("unused"))).expect("build");
        let stream = stream_order(&corpus);
        let ids: BTreeSet<&str> = stream.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), stream.len());
        let event: Vec<&Comment> = stream
            .iter()
            .copied()
            .filter(|c| c.label == Label::Event)
            .collect();
        assert!(event.len() >= 30, "event has only {} comments", event.len());
        assert!(distinct_authors(&event) * 10 >= event.len() * 8);
        assert!(event.iter().all(|c| c.offset >= corpus.event.onset));
        assert!(
            event.iter().any(|c| c.lang == Lang::De) && event.iter().any(|c| c.lang == Lang::En)
        );
        // Onset at about 60 % of the span.
        assert_eq!(corpus.event.onset, 19 * SECONDS_PER_DAY);
    }

    #[test]
    fn noise_has_the_promised_shape() {
        let corpus = build_corpus(&small_args(PathBuf::from("unused"))).expect("build");
        let members = |index: usize| -> Vec<&Comment> {
            corpus
                .comments
                .iter()
                .filter(|c| c.label == Label::Noise(index))
                .collect()
        };
        for (index, plan) in corpus.noise.iter().enumerate() {
            let group = members(index);
            assert!(
                group
                    .iter()
                    .all(|c| c.offset >= plan.start && c.offset < plan.end),
                "{}",
                plan.name
            );
            let texts: BTreeSet<&str> = group.iter().map(|c| c.text.as_str()).collect();
            match plan.kind {
                "spam" => {
                    assert_eq!(distinct_authors(&group), 1);
                    assert!(texts.len() > group.len() / 2);
                }
                "duplicate_flood" => {
                    assert_eq!(texts.len(), 1);
                    assert_eq!(distinct_authors(&group), group.len());
                }
                "rare_blip" => {
                    assert_eq!(group.len(), 5);
                    assert_eq!(distinct_authors(&group), 5);
                }
                other => panic!("unexpected kind {other}"),
            }
        }
        let blip_elsewhere = stream_order(&corpus)
            .iter()
            .filter(|c| !matches!(c.label, Label::Noise(2)))
            .any(|c| c.text.to_lowercase().contains(BLIP_WORD));
        assert!(!blip_elsewhere);
        let issue_words_in_background = corpus
            .comments
            .iter()
            .filter(|c| c.label == Label::Background)
            .any(|c| c.text.contains("4.2") || c.text.to_lowercase().contains("firmware"));
        assert!(!issue_words_in_background);
    }

    #[test]
    fn language_mix_and_star_agreement_are_plausible() {
        let corpus = build_corpus(&small_args(PathBuf::from("unused"))).expect("build");
        let background: Vec<&Comment> = corpus
            .comments
            .iter()
            .filter(|c| c.label == Label::Background)
            .collect();
        let german = background.iter().filter(|c| c.lang == Lang::De).count();
        let share = german as f64 / background.len() as f64;
        assert!((0.15..0.45).contains(&share), "german share {share}");
        let reviews: Vec<&Comment> = corpus
            .comments
            .iter()
            .filter(|c| c.channel.file() == FileKind::Reviews)
            .collect();
        assert!(reviews.iter().all(|c| c.stars.is_some()));
        let event_reviews: Vec<u8> = reviews
            .iter()
            .filter(|c| c.label == Label::Event)
            .filter_map(|c| c.stars)
            .collect();
        let low = event_reviews.iter().filter(|&&s| s <= 2).count();
        assert!(low * 10 >= event_reviews.len() * 6);
    }

    #[test]
    fn reviews_csv_parses_with_the_mapped_header() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let corpus = build_corpus(&small_args(tmp.path().to_path_buf())).expect("build");
        write_corpus(&corpus, tmp.path()).expect("write");
        let mut reader = csv::Reader::from_path(tmp.path().join("reviews.csv")).expect("open");
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(header, REVIEW_HEADER);
        let mut rows = 0;
        for record in reader.records() {
            let record = record.expect("well-formed row");
            assert_eq!(record.len(), 7);
            assert!(DateTime::parse_from_rfc3339(&record[2]).is_ok());
            rows += 1;
        }
        assert_eq!(
            rows,
            corpus
                .comments
                .iter()
                .filter(|c| c.channel.file() == FileKind::Reviews)
                .count()
        );
    }

    #[test]
    fn fill_template_replaces_every_slot() {
        let mut rng = Rng::for_component(1, "test");
        let all_parts = [
            &PRODUCT_EN,
            &PRODUCT_DE,
            &WORK_EN,
            &WORK_DE,
            &ISSUE_EN_PARTS,
            &ISSUE_DE_PARTS,
        ];
        let mut templates: Vec<&str> = Vec::new();
        for subject in SUBJECTS {
            templates.extend(subject.en.iter().chain(subject.de).map(|(_, t)| *t));
        }
        templates.extend(ISSUE_EN.iter().chain(ISSUE_DE).map(|(_, t)| *t));
        for parts in all_parts {
            templates.extend(parts.openers.iter().chain(parts.details));
            for tone in 0..3 {
                templates.extend(parts.tone_openers[tone].iter());
                templates.extend(parts.tone_details[tone].iter());
                templates.extend(parts.closers[tone].iter());
            }
        }
        for template in templates {
            for lang in [Lang::En, Lang::De] {
                // Several draws, so that every branch of the composite slots is taken.
                for _ in 0..20 {
                    let text = fill_template(template, lang, &mut rng);
                    assert!(!text.contains('{') && !text.contains('}'), "{text}");
                    let issue_template =
                        ISSUE_EN.iter().chain(ISSUE_DE).any(|(_, t)| *t == template);
                    assert!(issue_template || !text.contains("4.2"), "{text}");
                }
            }
        }
        assert!(ISSUE_EN.len() >= 15 && ISSUE_DE.len() >= 15);
    }

    /// Share of `comments` whose normalised text equals that of an earlier one.
    fn duplicate_share(comments: &[&Comment]) -> f64 {
        let mut seen = BTreeSet::new();
        let repeats = comments
            .iter()
            .filter(|c| !seen.insert(normalize_for_dedup(&c.text)))
            .count();
        repeats as f64 / comments.len().max(1) as f64
    }

    #[test]
    fn exact_repeats_are_rare_except_in_the_flood() {
        let default_args = Args::parse_from(["xsignal-corpus", "--out", "unused"]);
        for args in [small_args(PathBuf::from("unused")), default_args] {
            let corpus = build_corpus(&args).expect("build");
            let stream = stream_order(&corpus);
            let with_label = |label: Label| -> Vec<&Comment> {
                stream
                    .iter()
                    .copied()
                    .filter(|c| c.label == label)
                    .collect()
            };
            let background = duplicate_share(&with_label(Label::Background));
            assert!(background < 0.02, "background repeats {background}");
            let event = with_label(Label::Event);
            let event_share = duplicate_share(&event);
            assert!(event_share < 0.05, "event repeats {event_share}");
            // The planted issue stays recognisable and sounds like a complaint.
            let keyed = event
                .iter()
                .filter(|c| {
                    let lower = c.text.to_lowercase();
                    lower.contains("4.2") || lower.contains("firmware")
                })
                .count();
            assert!(keyed * 10 >= event.len() * 8, "{keyed} of {}", event.len());
            let complaints = [
                "annoy",
                "unaccept",
                "cold",
                "freez",
                "terrible",
                "ridiculous",
                "disappoint",
                "useless",
                "worst",
                "fix",
                "nervt",
                "ärger",
                "unzumutbar",
                "kalt",
                "furchtbar",
                "enttäusch",
                "unbrauchbar",
                "kaputt",
                "beheben",
                "😡",
                "🥶",
            ];
            let negative = event
                .iter()
                .filter(|c| {
                    let lower = c.text.to_lowercase();
                    complaints.iter().any(|word| lower.contains(word))
                })
                .count();
            assert!(
                negative * 10 >= event.len() * 6,
                "{negative} of {}",
                event.len()
            );
            for (index, plan) in corpus.noise.iter().enumerate() {
                let group = with_label(Label::Noise(index));
                let distinct: BTreeSet<String> =
                    group.iter().map(|c| normalize_for_dedup(&c.text)).collect();
                match plan.kind {
                    "duplicate_flood" => assert_eq!(distinct.len(), 1),
                    // Near-identical offers, varied in number and code.
                    "spam" => assert!(distinct.len() * 10 >= group.len() * 9),
                    _ => assert_eq!(distinct.len(), group.len(), "{}", plan.name),
                }
            }
        }
    }
}
