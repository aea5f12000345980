package pim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

const corpus = "../../testdata/corpus"

// corpusWant is what each corpus file must export. The numbers were found
// by reading the files: grep -c BEGIN:VCARD (v21_nest.vcf nests two cards
// in one), top-level components grouped by UID by hand for iCalendar.
// Warnings are explained per file.
var corpusWant = map[string]struct{ contacts, events, tasks, warnings int }{
	"vcard/aosp/v21_adr_multiple_line.vcf":                                 {1, 0, 0, 0},
	"vcard/aosp/v21_android_custom_prop.vcf":                               {1, 0, 0, 0},
	"vcard/aosp/v21_backslash.vcf":                                         {1, 0, 0, 0},
	"vcard/aosp/v21_base64_no_2_crlf.vcf":                                  {1, 0, 0, 0},
	"vcard/aosp/v21_blackberry_photo.vcf":                                  {1, 0, 0, 0},
	"vcard/aosp/v21_complicated.vcf":                                       {1, 0, 0, 0},
	"vcard/aosp/v21_invalid_comment_line.vcf":                              {1, 0, 0, 0},
	"vcard/aosp/v21_invalid_multiple_line.vcf":                             {1, 0, 0, 0},
	"vcard/aosp/v21_japanese_1.vcf":                                        {1, 0, 0, 0},
	"vcard/aosp/v21_japanese_2.vcf":                                        {1, 0, 0, 0},
	"vcard/aosp/v21_malformed_photo.vcf":                                   {1, 0, 0, 0},
	"vcard/aosp/v21_multiple_entry.vcf":                                    {3, 0, 0, 0},
	"vcard/aosp/v21_nest.vcf":                                              {1, 0, 0, 0}, // 3 BEGIN:VCARD, two nested
	"vcard/aosp/v21_pref_handling.vcf":                                     {1, 0, 0, 0},
	"vcard/aosp/v21_title_before_org.vcf":                                  {1, 0, 0, 0},
	"vcard/aosp/v21_winmo_65.vcf":                                          {1, 0, 0, 0},
	"vcard/aosp/v21_x_android_custom_after_photo.vcf":                      {1, 0, 0, 0},
	"vcard/aosp/v21_x_param.vcf":                                           {1, 0, 0, 0},
	"vcard/aosp/v30_comma_separated.vcf":                                   {1, 0, 0, 0},
	"vcard/aosp/v30_ios_613_multiline.vcf":                                 {1, 0, 0, 0},
	"vcard/aosp/v30_japanese.vcf":                                          {1, 0, 0, 0},
	"vcard/aosp/v30_multibyte_param.vcf":                                   {1, 0, 0, 0},
	"vcard/aosp/v40_sip.vcf":                                               {1, 0, 0, 0},
	"vcard/aosp/v40_sort_as.vcf":                                           {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_ANDROID.vcf":                                  {6, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_BLACK_BERRY.vcf":                              {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_EVOLUTION.vcf":                                {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_GMAIL.vcf":                                    {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_IPHONE.vcf":                                   {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_LOTUS_NOTES.vcf":                              {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_MAC_ADDRESS_BOOK.vcf":                         {1, 0, 0, 0},
	"vcard/ez-vcard/John_Doe_MS_OUTLOOK.vcf":                               {1, 0, 0, 0},
	"vcard/ez-vcard/fullcontact.vcf":                                       {1, 0, 0, 0},
	"vcard/ez-vcard/gmail-single.vcf":                                      {1, 0, 0, 0},
	"vcard/ez-vcard/gmail-single2.vcf":                                     {1, 0, 0, 0},
	"vcard/ez-vcard/issue114.vcf":                                          {1, 0, 0, 0},
	"vcard/ez-vcard/outlook-2003.vcf":                                      {1, 0, 0, 0},
	"vcard/ez-vcard/rfc6350-example.vcf":                                   {1, 0, 0, 0},
	"vcard/ez-vcard/thunderbird-MoreFunctionsForAddressBook-extension.vcf": {1, 0, 0, 0},
	"vcard/thunderbird/basic_vcard_addressbook.vcf":                        {2, 0, 0, 0},
	"vcard/thunderbird/dos_vcard_addressbook.vcf":                          {1, 0, 0, 0},
	"vcard/thunderbird/emptylines_vcard_addressbook.vcf":                   {2, 0, 0, 0},
	"vcard/thunderbird/export.vcf":                                         {2, 0, 0, 0},
	"vcard/thunderbird/v3-binary-jpeg.vcf":                                 {1, 0, 0, 0},
	"vcard/thunderbird/v3-uri-binary-png.vcf":                              {1, 0, 0, 0},
	"vcard/thunderbird/v3-uri-uri-webp.vcf":                                {1, 0, 0, 0},
	"vcard/thunderbird/v4-uri-jpeg.vcf":                                    {1, 0, 0, 0},

	"ical/biweekly/exchange-2010-unquoted-tzid-no-uid.ics": {0, 2, 0, 0}, // two UID-less VEVENTs
	"ical/biweekly/google-tzid-leading-slash.ics":          {0, 1, 0, 0},
	"ical/biweekly/kde-libkcal-rdate-vtimezone.ics":        {0, 1, 0, 0},
	"ical/biweekly/outlook-2010.ics":                       {0, 1, 0, 0},
	"ical/biweekly/outlook-2016-publish.ics":               {0, 1, 0, 0},
	"ical/biweekly/outlook-2016-w-europe.ics":              {0, 1, 0, 0},
	"ical/biweekly/vcal-1.0-example1.vcs":                  {0, 1, 0, 0},
	"ical/biweekly/vcal-1.0-example2.vcs":                  {0, 0, 1, 0},
	"ical/biweekly/vcal-1.0-example3.vcs":                  {0, 1, 1, 0},
	"ical/khal/cal_dt_two_tz.ics":                          {0, 1, 0, 0},
	"ical/khal/cal_lots_of_timezones.ics":                  {0, 2, 0, 0}, // abcde + its override, 123
	"ical/khal/cal_no_dst.ics":                             {0, 1, 0, 0},
	"ical/khal/event_d_no_value.ics":                       {0, 1, 0, 0},
	"ical/khal/event_dt_floating.ics":                      {0, 1, 0, 0},
	"ical/khal/event_dt_local_missing_tz.ics":              {0, 1, 0, 0},
	"ical/khal/event_dt_mixed_awareness.ics":               {0, 2, 0, 0},
	"ical/khal/event_dt_multi_recuid_no_master.ics":        {0, 1, 0, 0}, // two overrides, one UID
	"ical/khal/event_dt_no_end.ics":                        {0, 1, 0, 0},
	"ical/khal/event_dt_partstat.ics":                      {0, 1, 0, 1}, // a '"' inside a parameter value: go-ical refuses
	"ical/khal/event_dt_recuid_no_master.ics":              {0, 1, 0, 0},
	"ical/khal/event_dt_rrule_invalid_until.ics":           {0, 1, 0, 0},
	"ical/khal/event_dt_rrule_invalid_until2.ics":          {0, 1, 0, 0},
	"ical/khal/event_dt_rrule_until_before_start.ics":      {0, 1, 0, 0},
	"ical/khal/event_invalid_exdate.ics":                   {0, 1, 0, 0},
	"ical/khal/event_rdate_no_value.ics":                   {0, 1, 0, 0},
	"ical/khal/event_rrule_recuid.ics":                     {0, 1, 0, 0},
	"ical/khal/event_rrule_recuid_cancelled.ics":           {0, 1, 0, 0},
	"ical/khal/event_rrule_recuid_invalid_tzid.ics":        {0, 1, 0, 0},
	"ical/khal/event_rrule_recuid_update.ics":              {0, 1, 0, 0},
	"ical/khal/invalid_tzoffset.ics":                       {0, 1, 0, 0},
	"ical/khal/mult_uids_and_recuid_no_order.ics":          {0, 2, 0, 0},
	"ical/khal/non_dst_error.ics":                          {0, 2, 0, 0},
	"ical/khal/part1.ics":                                  {0, 1, 0, 0},
	"ical/khal/tz_windows_format.ics":                      {0, 1, 0, 0},
	"ical/khal/without_uid.ics":                            {0, 1, 0, 0},

	"ical/python-icalendar/calendars/alarm_etar_future.ics":                                         {0, 1, 0, 0},
	"ical/python-icalendar/calendars/alarm_google_future.ics":                                       {0, 1, 0, 0},
	"ical/python-icalendar/calendars/alarm_thunderbird_future.ics":                                  {0, 1, 0, 0},
	"ical/python-icalendar/calendars/alarm_thunderbird_snoozed_until_1457.ics":                      {0, 1, 0, 0},
	"ical/python-icalendar/calendars/big_bad_calendar.ics":                                          {0, 20, 0, 0}, // 20 UID-less
	"ical/python-icalendar/calendars/bom_calendar.ics":                                              {0, 0, 0, 0},
	"ical/python-icalendar/calendars/broken_ical.ics":                                               {0, 1, 0, 0},
	"ical/python-icalendar/calendars/created_calendar_with_unicode_fields.ics":                      {0, 3, 0, 0},
	"ical/python-icalendar/calendars/fuzz_testcase_vtimezone_lone_cr.ics":                           {0, 0, 0, 0},
	"ical/python-icalendar/calendars/issue_1050_all_components.ics":                                 {0, 2, 1, 1}, // VEVENT, VJOURNAL, VTODO; VAVAILABILITY dropped
	"ical/python-icalendar/calendars/issue_1050_forward_timezone_reference.ics":                     {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_1050_multiple_calendars.ics":                             {0, 2, 0, 0},
	"ical/python-icalendar/calendars/issue_1549_binary_attachment.ics":                              {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_1561_image_value.ics":                                    {0, 4, 0, 0},
	"ical/python-icalendar/calendars/issue_156_RDATE_with_PERIOD_TZID_khal_2.ics":                   {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_165_missing_event.ics":                                   {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_218_bad_tzid.ics":                                        {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_237_fail_to_parse_timezone_with_non_ascii_tzid.ics":      {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_27_multiple_periods_in_freebusy_multiple_freebusies.ics": {0, 0, 0, 1}, // VFREEBUSY dropped
	"ical/python-icalendar/calendars/issue_348_exception_parsing_value.ics":                         {0, 1, 0, 1}, // VFREEBUSY dropped
	"ical/python-icalendar/calendars/issue_350.ics":                                                 {0, 1, 0, 1}, // X-COMMENT after END:VCALENDAR
	"ical/python-icalendar/calendars/issue_351_whitespace_in_property_and_params.ics":               {0, 1, 0, 0},
	"ical/python-icalendar/calendars/issue_722_missing_timezones.ics":                               {0, 3, 1, 0}, // all UID-less
	"ical/python-icalendar/calendars/issue_836_do_not_quote_tzid.ics":                               {0, 1, 0, 0},
	"ical/python-icalendar/calendars/multiple_calendar_components.ics":                              {0, 3, 0, 1}, // blank lines inside folds: go-ical refuses the first
	"ical/python-icalendar/calendars/pacific_fiji.ics":                                              {0, 1, 0, 0},
	"ical/python-icalendar/calendars/parsing_error.ics":                                             {0, 2, 0, 0},
	"ical/python-icalendar/calendars/property_params.ics":                                           {0, 1, 0, 0},
	"ical/python-icalendar/calendars/timezone_rdate.ics":                                            {0, 1, 0, 1}, // "SUMMARY=testevent" has no colon
	"ical/python-icalendar/calendars/timezone_same_start.ics":                                       {0, 1, 0, 0},
	"ical/python-icalendar/calendars/x_location.ics":                                                {0, 1, 0, 0},
	"ical/python-icalendar/events/event_with_recurrence_exdates_on_different_lines.ics":             {0, 1, 0, 0},
	"ical/python-icalendar/events/issue_101_icalendar_chokes_on_umlauts_in_organizer.ics":           {0, 1, 0, 0},
	"ical/python-icalendar/events/issue_112_missing_tzinfo_on_exdate.ics":                           {0, 1, 0, 0},
	"ical/python-icalendar/events/issue_157_removes_trailing_semicolon.ics":                         {0, 1, 0, 0},
	"ical/python-icalendar/events/issue_464_invalid_rdate.ics":                                      {0, 1, 0, 0},
	"ical/python-icalendar/timezones/issue_55_parse_error_on_utc_offset_with_seconds.ics":           {0, 0, 0, 0},
	"ical/python-icalendar/todos/example.ics":                                                       {0, 0, 1, 0},
	"ical/thunderbird/import.ics":                                                                   {0, 4, 0, 0},
	"ical/thunderbird/importLatin1.ics":                                                             {0, 4, 0, 0},
}

// exportFile runs the exporter matching path's extension into a new sink.
func exportFile(t *testing.T, path string, opt export.Options) *exporttest.Sink {
	t.Helper()
	var s exporttest.Sink
	var err error
	if strings.HasSuffix(path, ".vcf") {
		err = AddContacts(context.Background(), &s, "", path, opt)
	} else {
		err = AddCalendar(context.Background(), &s, "", path, opt)
	}
	if err != nil {
		t.Fatalf("export %s: %v", path, err)
	}
	return &s
}

func TestCorpus(t *testing.T) {
	seen := 0
	for _, dir := range []string{"vcard", "ical"} {
		err := filepath.WalkDir(filepath.Join(corpus, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(corpus, path)
			rel = filepath.ToSlash(rel)
			want, ok := corpusWant[rel]
			if !ok {
				t.Errorf("%s: not in the expectation table", rel)
				return nil
			}
			seen++
			s := exportFile(t, path, export.Options{})
			var got struct{ contacts, events, tasks, warnings int }
			for _, it := range s.Items {
				switch it.Kind {
				case format.KindContact:
					got.contacts++
				case format.KindEvent:
					got.events++
				case format.KindTask:
					got.tasks++
				}
				if it.UID == "" || it.SourceID == "" || it.Received.IsZero() {
					t.Errorf("%s: item %+v lacks UID, SourceID or Received", rel, it.Item)
				}
			}
			got.warnings = len(s.Warnings)
			if got != want {
				t.Errorf("%s: got contacts/events/tasks/warnings %v, want %v (warnings %v)", rel, got, want, s.Warnings)
			}
			if len(s.Errors) != 0 {
				t.Errorf("%s: errors %v", rel, s.Errors)
			}
			if len(s.Folders) != 1 {
				t.Errorf("%s: got %d folders, want 1", rel, len(s.Folders))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if seen != len(corpusWant) {
		t.Errorf("walked %d corpus files, table has %d", seen, len(corpusWant))
	}
}
