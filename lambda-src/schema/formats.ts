/** Custom formats of the record schema, used by the generated standalone validator. */
import { isCalendarDate } from '../lib/dates';

export const formats = {
  'calendar-date': { type: 'string', validate: (s: string) => isCalendarDate(s) },
};
