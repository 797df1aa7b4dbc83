"""Texts of the performance screen (/kinerja) and the weekly report."""

ENTRIES = {
    "kinerja.title": {"id": "Kinerja penanganan laporan", "en": "Report handling performance"},
    "screen.kinerja": {"id": "Kinerja OPD (staf)", "en": "Agency performance (staff)"},
    "kinerja.period": {"id": "Periode", "en": "Period"},
    "kinerja.period.7d": {"id": "7 hari terakhir", "en": "Last 7 days"},
    "kinerja.period.30d": {"id": "30 hari terakhir", "en": "Last 30 days"},
    "kinerja.period.90d": {"id": "90 hari terakhir", "en": "Last 90 days"},
    "kinerja.period.365d": {"id": "365 hari terakhir", "en": "Last 365 days"},
    "kinerja.all": {"id": "Semua", "en": "All"},
    "kinerja.agency": {"id": "OPD", "en": "Agency"},
    "kinerja.category": {"id": "Kategori", "en": "Category"},
    "kinerja.kecamatan": {"id": "Kecamatan", "en": "District (kecamatan)"},
    "kinerja.kelurahan": {"id": "Kelurahan", "en": "Sub-district (kelurahan)"},
    "kinerja.language": {"id": "English", "en": "Bahasa Indonesia"},
    "kinerja.range": {"id": "{first} – {last} ({zone})", "en": "{first} – {last} ({zone})"},
    "kinerja.drill": {"id": "Lihat laporannya di konsol disposisi", "en": "See these reports in the dispatch console"},
    "kinerja.method": {"id": "Cara hitung", "en": "Method"},
    "kinerja.no_agency": {"id": "Belum ada OPD", "en": "No agency yet"},
    "kinerja.unknown_area": {"id": "Tanpa wilayah", "en": "No area"},
    "kinerja.reports": {"id": "Laporan", "en": "Reports"},
    "kinerja.day": {"id": "Tanggal", "en": "Date"},
    "kinerja.week": {"id": "Minggu mulai", "en": "Week starting"},
    "kinerja.hours": {"id": "Jam", "en": "Hours"},
    "kinerja.hour": {"id": "Jam (waktu setempat)", "en": "Hour (local time)"},
    "kinerja.weekday": {"id": "Hari", "en": "Day"},
    "kinerja.weekdays": {"id": "Sen,Sel,Rab,Kam,Jum,Sab,Min", "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun"},
    "kinerja.open": {"id": "Belum selesai", "en": "Open"},
    "kinerja.sla_pct": {"id": "Tepat waktu (%)", "en": "On time (%)"},
    "kinerja.ordinary": {"id": "Kategori umum", "en": "Ordinary categories"},
    "kinerja.sensitive": {"id": "Kategori sensitif", "en": "Sensitive categories"},
    "kinerja.suppressed": {"id": "Kategori sensitif di bawah {k} laporan tidak ditampilkan.",
                           "en": "Sensitive categories under {k} reports are not shown."},
    "kinerja.chart.daily": {"id": "Berapa laporan masuk per hari, dan tentang apa?",
                            "en": "How many reports come in each day, and about what?"},
    "kinerja.chart.backlog": {"id": "Apakah antrean laporan yang belum selesai bertambah?",
                              "en": "Is the backlog of open reports growing?"},
    "kinerja.chart.sla": {"id": "OPD mana yang menyelesaikan laporan tepat waktu, minggu demi minggu?",
                          "en": "Which agencies resolve on time, week by week?"},
    "kinerja.chart.first_action": {"id": "Berapa lama sampai OPD mulai bertindak?",
                                   "en": "How long until the agency first acts?"},
    "kinerja.chart.resolve": {"id": "Berapa lama sampai laporan selesai?",
                              "en": "How long until a report is resolved?"},
    "kinerja.chart.heatmap": {"id": "Kapan warga melapor (hari × jam)?",
                              "en": "When do citizens report (day × hour)?"},
    "kinerja.chart.areas": {"id": "Wilayah mana yang paling banyak melapor?",
                            "en": "Which areas report the most?"},
    "kinerja.method.daily": {"id": "Laporan menurut tanggal dibuat (zona kota), ditumpuk per kategori.",
                             "en": "Reports by the day they were filed (city's zone), stacked by category."},
    "kinerja.method.backlog": {
        "id": "Laporan terbuka (baru, terverifikasi, didisposisi, dikerjakan, dibuka ulang) di akhir tiap hari: "
              "jumlah terbuka sekarang, mundur dengan perubahan harian (masuk − selesai/ditolak + dibuka ulang).",
        "en": "Open reports (new, verified, dispatched, in progress, reopened) at the end of each day: the open "
              "count now, walked back by each day's change (received − resolved/rejected + reopened)."},
    "kinerja.method.sla": {
        "id": "Dari penyelesaian dalam minggu itu, porsi yang selesai sebelum tenggat SLA laporannya "
              "(tiap penyelesaian dihitung, juga setelah dibuka ulang).",
        "en": "Of the resolutions in that week, the share made before the report's SLA due time "
              "(every resolution counts, also one after a reopening)."},
    "kinerja.method.first_action": {
        "id": "Jam dari laporan dibuat sampai petugas OPD mulai (atau langsung menyelesaikan), per kelas "
              "jam; median dihitung dari kelas ini. Filter kecamatan tidak berlaku di grafik ini.",
        "en": "Hours from filing to the agency officer's start (or a resolution without one), in hour "
              "classes; medians are read from these classes. The kecamatan filter does not apply here."},
    "kinerja.method.resolve": {
        "id": "Jam dari laporan dibuat sampai diselesaikan, per kelas jam. Filter kecamatan tidak berlaku di sini.",
        "en": "Hours from filing to resolution, in hour classes. The kecamatan filter does not apply here."},
    "kinerja.method.heatmap": {"id": "Laporan menurut hari dan jam dibuat, zona kota.",
                               "en": "Reports by weekday and hour filed, in the city's zone."},
    "kinerja.method.areas": {
        "id": "Laporan masuk per kecamatan (per kelurahan bila satu kecamatan dipilih). Kategori sensitif "
              "(bansos, kesehatan, ketertiban) tidak pernah ditampilkan dengan 1 sampai {k1} laporan.",
        "en": "Reports received per kecamatan (per kelurahan when one kecamatan is chosen). Sensitive "
              "categories (social aid, health, public order) are never shown with 1 to {k1} reports."},
    "kinerja.table.agencies": {"id": "Kinerja per OPD", "en": "Performance per agency"},
    "kinerja.table.officers": {"id": "Kinerja per petugas", "en": "Performance per officer"},
    "kinerja.col.received": {"id": "Masuk", "en": "Received"},
    "kinerja.col.assigned": {"id": "Didisposisi", "en": "Assigned"},
    "kinerja.col.resolved": {"id": "Selesai", "en": "Resolved"},
    "kinerja.col.first_action": {"id": "Median mulai", "en": "Median to first action"},
    "kinerja.col.resolve": {"id": "Median selesai", "en": "Median to resolve"},
    "kinerja.col.sla": {"id": "Tepat waktu", "en": "SLA met"},
    "kinerja.col.reopened": {"id": "Dibuka ulang", "en": "Reopened"},
    "kinerja.col.rating": {"id": "Rating warga", "en": "Citizen rating"},
    "kinerja.col.disputes": {"id": "Disanggah warga", "en": "Disputed"},
    "kinerja.col.officer": {"id": "Petugas", "en": "Officer"},
    "kinerja.col.started": {"id": "Mulai dikerjakan", "en": "Started"},
    "kinerja.col.mean_resolve": {"id": "Rata-rata selesai", "en": "Mean to resolve"},
    "kinerja.col.rank": {"id": "Peringkat", "en": "Rank"},
    "kinerja.not_ranked": {"id": "tidak diperingkat", "en": "not ranked"},
    "kinerja.hours_value": {"id": "{n} jam", "en": "{n} h"},
    "kinerja.method.agencies": {
        "id": "Masuk: laporan dibuat dalam periode. Didisposisi: disposisi ke OPD. Selesai: penyelesaian dalam "
              "periode. Median dari kelas jam. Tepat waktu: selesai sebelum tenggat / selesai. Dibuka ulang: "
              "dibuka ulang setelah selesai / selesai. Rating: rata-rata bintang 1–5 yang diberikan warga dalam "
              "periode. Disanggah: warga menyatakan belum selesai.",
        "en": "Received: filed in the period. Assigned: dispatches to the agency. Resolved: resolutions in the "
              "period. Medians from the hour classes. SLA met: resolved before the due time / resolved. "
              "Reopened: reopened after a resolution / resolved. Rating: mean of the 1–5 stars citizens gave "
              "in the period. Disputed: the citizen said it is not solved."},
    "kinerja.method.officers": {
        "id": "Per akun petugas yang memulai atau menyelesaikan laporan dalam periode; rata-rata (bukan "
              "median) jam dari laporan dibuat sampai penyelesaiannya.",
        "en": "Per staff account that started or resolved reports in the period; the mean (not the median) "
              "hours from filing to its resolution."},
    "kinerja.honesty": {"id": "Sinyal kejujuran", "en": "Honesty signals"},
    "kinerja.honesty.resolved": {"id": "Diselesaikan", "en": "Resolved"},
    "kinerja.honesty.verified": {"id": "Terverifikasi", "en": "Verified"},
    "kinerja.honesty.flagged": {"id": "Ditandai (belum terverifikasi)", "en": "Flagged (unverified)"},
    "kinerja.honesty.location_unverified": {"id": "Lokasi tidak terverifikasi", "en": "Location not verified"},
    "kinerja.honesty.photo_near_match": {"id": "Foto mirip foto lain", "en": "Photo close to another"},
    "kinerja.honesty.photo_before_assignment": {"id": "Foto sebelum penugasan",
                                                "en": "Photo taken before assignment"},
    "kinerja.honesty.self_service": {"id": "Dilapor & diselesaikan sendiri", "en": "Filed & resolved by itself"},
    "kinerja.method.honesty": {
        "id": "Penyelesaian dalam periode menurut bukti kerja dari aplikasi petugas (/tugas): terverifikasi bila "
              "tidak ada tanda; ditandai bila lokasi tidak terverifikasi, foto mirip foto sebelumnya, foto diambil "
              "sebelum penugasan, atau laporan dibuat dan diselesaikan oleh akun/OPD yang sama. Peringkat publik "
              "hanya menghitung penyelesaian terverifikasi.",
        "en": "Resolutions in the period by the proof of work from the officer app (/tugas): verified when "
              "nothing was flagged; flagged when the location was not verified, the photo was close to an "
              "earlier one, taken before the assignment, or the report was filed and resolved by the same "
              "account or agency. The public ranking counts verified resolutions only."},
    "kinerja.weekly": {"id": "Laporan mingguan", "en": "Weekly reports"},
    "kinerja.weekly.none": {"id": "Belum ada laporan mingguan.", "en": "No weekly report yet."},
    "kinerja.weekly.city": {"id": "Kota", "en": "City"},
    "kinerja.bad_filter": {"id": "Filter tidak valid: {field}", "en": "Invalid filter: {field}"},
    "kinerja.no_data": {"id": "Belum ada data untuk filter ini.", "en": "No data for this filter yet."},
    # the weekly report
    "weekly.title": {"id": "Laporan kinerja mingguan {week}", "en": "Weekly performance report {week}"},
    "weekly.scope_city": {"id": "Seluruh kota — {city}", "en": "Whole city — {city}"},
    "weekly.scope_agency": {"id": "OPD {agency}", "en": "Agency {agency}"},
    "weekly.generated": {"id": "Dibuat {time}", "en": "Generated {time}"},
    "weekly.kpi": {"id": "Indikator", "en": "Indicator"},
    "weekly.this_week": {"id": "Minggu ini", "en": "This week"},
    "weekly.last_week": {"id": "Minggu lalu", "en": "Previous week"},
    "weekly.change": {"id": "Perubahan", "en": "Change"},
    "weekly.per_day": {"id": "Laporan masuk per hari", "en": "Reports received per day"},
    "weekly.sla_chart": {"id": "Tepat waktu per OPD (%)", "en": "SLA met per agency (%)"},
    "weekly.overdue": {"id": "Laporan paling lewat tenggat", "en": "Most overdue reports"},
    "weekly.ticket": {"id": "Tiket", "en": "Ticket"},
    "weekly.created": {"id": "Dibuat", "en": "Filed"},
    "weekly.due": {"id": "Tenggat", "en": "Due"},
    "weekly.status": {"id": "Status", "en": "Status"},
    "weekly.ranking": {"id": "Peringkat OPD", "en": "Agency ranking"},
    "weekly.ranking_method": {
        "id": "Urut menurut porsi tepat waktu, lalu median waktu selesai; OPD dengan kurang dari {n} "
              "penyelesaian dalam minggu itu tidak diperingkat.",
        "en": "Ordered by the share resolved on time, then the median time to resolve; agencies with fewer "
              "than {n} resolutions in the week are not ranked."},
    "weekly.flagged": {"id": "Penyelesaian yang ditandai: belum tersedia (menunggu aplikasi petugas).",
                       "en": "Flagged resolutions: not available yet (waits for the officer app)."},
    "weekly.mail_subject": {"id": "Pantau — laporan kinerja {week} ({scope})",
                            "en": "Pantau — performance report {week} ({scope})"},
    "weekly.mail_body": {"id": "Terlampir laporan kinerja minggu {week} ({first} – {last}).",
                         "en": "Attached is the performance report for week {week} ({first} – {last})."},
}

STATUS_NAMES = {
    "new": {"id": "Baru", "en": "New"},
    "verified": {"id": "Terverifikasi", "en": "Verified"},
    "dispatched": {"id": "Didisposisi", "en": "Dispatched"},
    "in_progress": {"id": "Dikerjakan", "en": "In progress"},
    "resolved": {"id": "Selesai", "en": "Resolved"},
    "closed": {"id": "Ditutup", "en": "Closed"},
    "rejected": {"id": "Ditolak", "en": "Rejected"},
    "reopened": {"id": "Dibuka ulang", "en": "Reopened"},
}
ENTRIES.update({f"kinerja.status.{code}": names for code, names in STATUS_NAMES.items()})
